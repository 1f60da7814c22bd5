/**
 * IMAP servers that hang mid-pass (they greet, take the login, then never answer the SELECT, trickling a byte now
 * and then so that no socket timeout fires) must not stall the other accounts of the instance: a healthy account
 * added next to more of them than the advisory-lock pool had connections still syncs, and so does its new mail.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { startFakeImap, type FakeImap } from '../support/fake-imap.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { syncedAccount, useMailEnv } from '../support/mail-account.js';
import { receivedEvents } from '../support/sync.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000' });
let fake: FakeImap | undefined;
afterAll(async () => fake?.close());

describe('hung IMAP servers', () => {
  it('do not stall the sync of healthy accounts on the same instance', async () => {
    fake = await startFakeImap({ hangOn: 'SELECT', trickleMs: 500 });
    const hungAccounts = 12;
    for (let i = 0; i < hungAccounts; i++) {
      const r = await t.srv.api('/api/accounts', {
        method: 'POST',
        json: { name: `Hung ${i}`, email: `hung${i}@example.com`, host: fake.host, port: fake.port, username: `hung${i}`, password: 'pw', encryption: 'none', is_active: true },
      });
      expect(r.status, r.text).toBe(201);
    }
    // The advisory-lock pool had 10 connections: each hung pass held one.
    await expectEventually(() => expect(fake!.hung).toBeGreaterThanOrEqual(10), { timeoutMs: 20_000, intervalMs: 100 });

    const { creds, accountId } = await syncedAccount(t, ['healthy']);
    await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'more' }));
    await expectEventually(async () => expect(await receivedEvents(t.dbUrl, accountId)).toBe(2), { timeoutMs: 10_000, intervalMs: 100 });
    // Every hung account got as far as its SELECT (none waited for another's lock connection), and is still hung.
    expect(fake.hung).toBe(hungAccounts);
  }, 90_000);
});
