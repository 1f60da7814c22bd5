/**
 * Expunges through QRESYNC (Dovecot has it): the flag sync's UID FETCH asks for VANISHED, and the messages the server
 * names are removed without a UID SEARCH ALL diff. Servers without QRESYNC take the diff (sync-minimal-server.test.ts).
 * The commands are read from a proxy between the server and Dovecot.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { withImap } from '../support/imap.js';
import { syncedAccount, useMailEnv } from '../support/mail-account.js';
import { expectInSync, sql } from '../support/sync.js';
import { startProxy, type SilenceableProxy } from '../support/tcp-proxy.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000' });
let proxy: SilenceableProxy | undefined;
afterAll(async () => proxy?.close());

describe('QRESYNC', () => {
  it('an expunge on the server is found through VANISHED, without a UID SEARCH ALL', async () => {
    proxy = await startProxy(t.dovecot);
    const { creds, accountId } = await syncedAccount(t, ['one', 'two', 'three'], { host: proxy.host, port: proxy.port });
    await expectEventually(async () => expect((await t.srv.api(`/api/accounts/${accountId}`)).body.data.connected).toBe(true));
    expect(proxy.sent()).toMatch(/ENABLE[^\r\n]*QRESYNC/);
    const before = proxy.sent().length;
    await withImap(t.dovecot, creds, async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageDelete({ header: { subject: 'two' } });
    });
    await expectEventually(async () => {
      const rows = await sql<{ subject: string }>(t.dbUrl, 'SELECT subject FROM emails WHERE account_id = $1 ORDER BY subject', [accountId]);
      expect(rows.map((r) => r.subject)).toEqual(['one', 'three']);
    }, { timeoutMs: 10_000, intervalMs: 100 });
    const commands = proxy.sent().slice(before);
    expect(commands).toMatch(/UID FETCH 1:\* \(UID FLAGS MODSEQ\) \(CHANGEDSINCE \d+ VANISHED\)/);
    expect(commands).not.toMatch(/UID SEARCH ALL/);
    await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'INBOX');
    const [deleted] = await sql<{ n: string }>(t.dbUrl, "SELECT count(*) AS n FROM events WHERE account_id = $1 AND type = 'email.deleted'", [accountId]);
    expect(Number(deleted!.n)).toBe(1);
  }, 60_000);
});
