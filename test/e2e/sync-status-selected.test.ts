/**
 * RFC 3501 (6.3.10): STATUS SHOULD NOT be used on the selected mailbox, and some servers (not Dovecot) refuse it or
 * answer it with stale data. The polls' watchdog asks the folder the session has selected (the IDLE folder) with a
 * NOOP and reads the session's own counts instead. Against a proxy that refuses such a STATUS, the polls used to take
 * the refusal for a folder gone from the server and ran a pass over every folder on each poll.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { syncedAccount, useMailEnv } from '../support/mail-account.js';
import { receivedEvents, sql } from '../support/sync.js';
import { startProxy, type SilenceableProxy } from '../support/tcp-proxy.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_FLAG_RESCAN_MS: '600000' });
let proxy: SilenceableProxy | undefined;
afterAll(async () => proxy?.close());

const passes = async (accountId: number) =>
  Number((await sql<{ n: string }>(t.dbUrl, "SELECT count(*) AS n FROM events WHERE type = 'sync.completed' AND account_id = $1", [accountId]))[0]!.n);

describe('the polls on the selected (IDLE) folder', () => {
  it('use NOOP, not STATUS, and a quiet account runs no passes', async () => {
    proxy = await startProxy(t.dovecot, { refuseStatusOfSelected: true });
    const { creds, accountId } = await syncedAccount(t, ['first'], { host: proxy.host, port: proxy.port, sync_folders: ['INBOX', 'Archive'] }, 'INBOX', { Archive: ['filed'] });
    await expectEventually(async () => expect((await t.srv.api(`/api/accounts/${accountId}`)).body.data).toMatchObject({ connected: true, last_error: null }));
    const before = await passes(accountId);
    await new Promise((resolve) => setTimeout(resolve, 4000)); // four polls
    expect(proxy.refused).toBe(0);
    expect(await passes(accountId)).toBe(before);
    expect((await t.srv.api(`/api/accounts/${accountId}`)).body.data).toMatchObject({ connected: true, last_error: null });

    // New mail still comes: by IDLE in the selected folder, by the polls' STATUS in the other.
    await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'second' }));
    await appendMessage(t.dovecot, creds, 'Archive', buildMessage({ subject: 'filed later' }));
    await expectEventually(async () => expect(await receivedEvents(t.dbUrl, accountId)).toBe(4), { timeoutMs: 10_000, intervalMs: 100 });
  }, 60_000);
});
