/**
 * IDLE alone (no poll within the test's time) must bring in every message appended to a synced mailbox, one after
 * another: each notification starts a fresh sync of the folder, also while one is still running. And a move between
 * the IDLE folder and a polled one is whole within seconds: the IDLE half starts a STATUS round of the others.
 */
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage, withImap } from '../support/imap.js';
import { syncedAccount, useMailEnv } from '../support/mail-account.js';
import { expectInSync, receivedEvents, sql } from '../support/sync.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '600000', SYNC_LEASE_TTL_MS: '3000' });

describe('IDLE without polls', () => {
  it('every message appended after the first sync arrives within seconds, spaced out or back to back', async () => {
    const { creds, accountId } = await syncedAccount(t, ['first']);
    for (let i = 1; i <= 3; i++) {
      await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: `spaced ${i}` }));
      await expectEventually(async () => expect(await receivedEvents(t.db.url, accountId)).toBe(1 + i), { timeoutMs: 8_000, intervalMs: 100 });
    }
    for (let i = 1; i <= 3; i++) await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: `burst ${i}` }));
    await expectEventually(async () => expect(await receivedEvents(t.db.url, accountId)).toBe(7), { timeoutMs: 8_000, intervalMs: 100 });

    // Flag changes and expunges made by another client reach the IDLE session too.
    await withImap(t.dovecot, creds, async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageFlagsAdd('1:2', ['\\Seen', '\\Flagged']);
      await c.messageDelete('3');
    });
    await expectEventually(async () => expectInSync(t.db.url, accountId, t.dovecot, creds, 'INBOX'), { timeoutMs: 8_000, intervalMs: 200 });
  }, 60_000);

  it('a move between the IDLE folder and a polled one is reflected within seconds, not at the next poll', async () => {
    // Both stored by the first sync, after which the session IDLEs. (A message appended now would start a STATUS round
    // of the other folders once stored: a move landing in that round could be seen in Archive before the INBOX
    // expunge — arrival first, which hands the state to a new email instead of keeping the id.)
    const { creds, accountId } = await syncedAccount(t, ['filed before'], { sync_folders: ['INBOX', 'Archive'] }, 'Archive', { INBOX: ['to file'] });
    const where = (subject: string) =>
      sql<{ id: number; folder: string }>(t.db.url, 'SELECT id, folder FROM emails WHERE account_id = $1 AND subject = $2 ORDER BY id', [accountId, subject]);
    const [toFile] = await where('to file');
    const moveOnServer = (from: string, subject: string, to: string) =>
      withImap(t.dovecot, creds, async (c) => {
        await c.mailboxOpen(from);
        await c.messageMove({ subject }, to);
      });

    // Out of the IDLE folder: its expunge is seen at once, and the round finds the message in Archive, same email.
    await moveOnServer('INBOX', 'to file', 'Archive');
    await expectEventually(async () => expect(await where('to file')).toEqual([{ id: toFile!.id, folder: 'Archive' }]), { timeoutMs: 8_000, intervalMs: 100 });
    // Into it: IDLE stores the copy, and the round removes the one left in Archive (no duplicate for a poll interval).
    await moveOnServer('Archive', 'filed before', 'INBOX');
    await expectEventually(async () => expect((await where('filed before')).map((e) => e.folder)).toEqual(['INBOX']), { timeoutMs: 8_000, intervalMs: 100 });
    await expectInSync(t.db.url, accountId, t.dovecot, creds, 'INBOX');
    await expectInSync(t.db.url, accountId, t.dovecot, creds, 'Archive');
  }, 60_000);
});
