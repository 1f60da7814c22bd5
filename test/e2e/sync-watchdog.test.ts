/**
 * A silently dead IMAP connection (through a proxy that stops forwarding without closing anything): the poll's STATUS
 * goes unanswered, the watchdog declares the session stale within SYNC_WATCHDOG_TIMEOUT_MS and reconnects, and mail
 * that arrived meanwhile is synced — long before the socket timeout (left at its default of five minutes) would fire.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { syncedAccount, useMailEnv } from '../support/mail-account.js';
import { expectInSync, receivedEvents } from '../support/sync.js';
import { startProxy, type SilenceableProxy } from '../support/tcp-proxy.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_WATCHDOG_TIMEOUT_MS: '1500', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000' });
let proxy: SilenceableProxy | undefined;
afterAll(async () => proxy?.close());

describe('IMAP session watchdog', () => {
  it('reconnects a session whose socket went silent and syncs what arrived meanwhile', async () => {
    proxy = await startProxy(t.dovecot);
    const { creds, accountId } = await syncedAccount(t, ['before'], { host: proxy.host, port: proxy.port });
    await expectEventually(async () => expect((await t.srv.api(`/api/accounts/${accountId}`)).body.data.connected).toBe(true));
    expect(proxy.silenceOpen()).toBeGreaterThan(0);
    await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'while silent' }));
    await expectEventually(async () => expect(await receivedEvents(t.dbUrl, accountId)).toBe(2), { timeoutMs: 20_000, intervalMs: 200 });
    await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'INBOX');
    // The new session listens again: IDLE brings the next message without help.
    await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'after reconnect' }));
    await expectEventually(async () => expect(await receivedEvents(t.dbUrl, accountId)).toBe(3), { timeoutMs: 10_000, intervalMs: 100 });
  }, 60_000);
});
