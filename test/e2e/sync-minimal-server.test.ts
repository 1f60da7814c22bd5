/**
 * A minimal IMAP server (IMAP4rev1 without IDLE, CONDSTORE, QRESYNC or MOVE, as many hosted and older servers are):
 * new mail comes through polls, flag changes through comparison, expunges through the UID SEARCH diff, and
 * write-back (flags, delete to Trash) works with the base commands. And a server without any Trash folder: a delete
 * in trash mode creates one instead of destroying the message.
 */
import { describe, expect, it } from 'vitest';
import { startDovecot } from '../support/dovecot.js';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage, withImap } from '../support/imap.js';
import { syncedAccount, serverFlags, useMailEnv } from '../support/mail-account.js';
import { expectInSync, receivedEvents, sql } from '../support/sync.js';

const MINIMAL = 'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UIDPLUS';
const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_FLAG_RESCAN_MS: '1500' }, undefined, { capabilities: MINIMAL });

describe('a server without IDLE, CONDSTORE, QRESYNC and MOVE', () => {
  it('syncs new mail, flag changes and expunges, and writes flags and deletes back', async () => {
    const { dovecot, srv, dbUrl } = t;
    const { creds, accountId, ids } = await syncedAccount(t, ['one', 'two', 'three']);
    await withImap(dovecot, creds, async (c) => {
      expect(c.capabilities.has('IDLE')).toBe(false);
      expect(c.capabilities.has('CONDSTORE')).toBe(false);
    });

    await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'four' }));
    await expectEventually(async () => expect(await receivedEvents(dbUrl, accountId)).toBe(4), { timeoutMs: 15_000, intervalMs: 100 });

    await withImap(dovecot, creds, async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageFlagsAdd({ uid: '1' }, ['\\Seen', '\\Flagged'], { uid: true });
      await c.messageDelete({ uid: '2' }, { uid: true });
    });
    await expectEventually(async () => expectInSync(dbUrl, accountId, dovecot, creds, 'INBOX'), { timeoutMs: 15_000, intervalMs: 250 });

    const three = ids.get('three')!;
    expect((await srv.api(`/api/emails/${three}`, { method: 'PATCH', json: { is_starred: true } })).status).toBe(200);
    await expectEventually(async () => expect(await serverFlags(dovecot, creds, 'INBOX', 'three')).toEqual(expect.arrayContaining(['\\Flagged'])), { timeoutMs: 15_000, intervalMs: 200 });
    expect((await srv.api(`/api/emails/${three}`, { method: 'DELETE' })).status).toBe(200);
    await expectEventually(async () => {
      expect(await serverFlags(dovecot, creds, 'INBOX', 'three')).toBeUndefined();
      expect(await serverFlags(dovecot, creds, 'Trash', 'three')).toBeDefined();
    }, { timeoutMs: 15_000, intervalMs: 200 });
  }, 90_000);

  it('a flag change alone in a polled folder is seen, although STATUS cannot show it (SYNC_FLAG_RESCAN_MS)', async () => {
    const { dovecot, dbUrl } = t;
    const { creds, accountId, ids } = await syncedAccount(t, ['filed'], { sync_folders: ['INBOX', 'Archive'] }, 'Archive');
    await withImap(dovecot, creds, async (c) => {
      await c.mailboxOpen('Archive');
      await c.messageFlagsAdd('1:*', ['\\Seen', '\\Flagged']);
    });
    await expectEventually(async () => {
      const rows = await sql(dbUrl, 'SELECT is_read, is_starred FROM emails WHERE id = $1', [ids.get('filed')!]);
      expect(rows).toEqual([{ is_read: true, is_starred: true }]);
    }, { timeoutMs: 15_000, intervalMs: 250 });
    await expectInSync(dbUrl, accountId, dovecot, creds, 'Archive');
  }, 60_000);

  it('a server without a Trash folder: the first delete creates one and moves the message there', async () => {
    const bare = await startDovecot({ specialFolders: false });
    try {
      const { srv } = t;
      const { creds, accountId, ids } = await syncedAccount({ dovecot: bare, srv, dbUrl: t.dbUrl }, ['keep', 'bin']);
      const before = await withImap(bare, creds, async (c) => (await c.list()).map((f) => f.path));
      expect(before).toEqual(['INBOX']);
      expect((await srv.api(`/api/emails/${ids.get('bin')!}`, { method: 'DELETE' })).status).toBe(200);
      await expectEventually(async () => {
        expect(await serverFlags(bare, creds, 'INBOX', 'bin')).toBeUndefined();
        expect(await serverFlags(bare, creds, 'Trash', 'bin')).toBeDefined();
      }, { timeoutMs: 15_000, intervalMs: 200 });
      expect(await serverFlags(bare, creds, 'INBOX', 'keep')).toBeDefined();
      // Its session ends before the server does (a Dovecot with clients connected takes its 10 s stop timeout).
      expect((await srv.api(`/api/accounts/${accountId}`, { method: 'DELETE' })).status).toBe(200);
      await expectEventually(() => expect(srv.server.engine.supervisor?.owned()).not.toContain(accountId), { timeoutMs: 10_000 });
    } finally {
      await bare.stop();
    }
  }, 60_000);
});
