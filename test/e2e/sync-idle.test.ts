/**
 * IDLE alone (no poll within the test's time) must bring in every message appended to a synced mailbox, one after
 * another: each notification starts a fresh sync of the folder, also while one is still running.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type DovecotServer } from '../support/dovecot.js';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage, withImap } from '../support/imap.js';
import { syncedAccount } from '../support/mail-account.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { expectInSync, receivedEvents } from '../support/sync.js';

let dovecot: DovecotServer;
let db: TestDatabase;
let srv: TestServer;

beforeAll(async () => {
  dovecot = await startDovecot();
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '600000', SYNC_LEASE_TTL_MS: '3000' });
}, 60_000);
afterAll(async () => {
  await srv?.close();
  await dovecot?.stop();
  await db?.drop();
});

describe('IDLE without polls', () => {
  it('every message appended after the first sync arrives within seconds, spaced out or back to back', async () => {
    const { creds, accountId } = await syncedAccount({ dovecot, srv, dbUrl: db.url }, ['first']);
    for (let i = 1; i <= 3; i++) {
      await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: `spaced ${i}` }));
      await expectEventually(async () => expect(await receivedEvents(db.url, accountId)).toBe(1 + i), { timeoutMs: 8_000, intervalMs: 100 });
    }
    for (let i = 1; i <= 3; i++) await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: `burst ${i}` }));
    await expectEventually(async () => expect(await receivedEvents(db.url, accountId)).toBe(7), { timeoutMs: 8_000, intervalMs: 100 });

    // Flag changes and expunges made by another client reach the IDLE session too.
    await withImap(dovecot, creds, async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageFlagsAdd('1:2', ['\\Seen', '\\Flagged']);
      await c.messageDelete('3');
    });
    await expectEventually(async () => expectInSync(db.url, accountId, dovecot, creds, 'INBOX'), { timeoutMs: 8_000, intervalMs: 200 });
  }, 60_000);
});
