/**
 * A server with a small command-line limit (Dovecot `imap_max_line_length`; RFC 7162 asks clients to stay within
 * ~8 KB, and some servers enforce about that) and a folder whose UIDs are sparse (most messages deleted over the
 * years): UID sets are sent as ranges and split to fit, so the first sync, a UIDVALIDITY rematch and a bulk
 * write-back do not send one line per 1,000 UIDs, which the server refuses ("BAD … too long") on every pass.
 */
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { buildMessage, toCrlf, withImap } from '../support/imap.js';
import { useMailEnv } from '../support/mail-account.js';
import { expectInSync, sql } from '../support/sync.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000' }, undefined, { extraConfig: 'imap_max_line_length = 1k' });

describe('a server with a small command-line limit', () => {
  it('syncs a folder of sparse UIDs and writes a bulk change back', async () => {
    const creds = await t.dovecot.createUser();
    await withImap(t.dovecot, creds, async (c) => {
      for (let i = 0; i < 700; i++) await c.append('INBOX', toCrlf(buildMessage({ subject: `m${i}` })));
      await c.mailboxOpen('INBOX');
      // Every other message deleted: UIDs 1, 3, 5, … 699 (350 of them, ~1.4 KB as a comma list), 50 at a time.
      for (let i = 0; i < 350; i += 50) {
        expect(await c.messageDelete(Array.from({ length: 50 }, (_, k) => 2 * (i + k) + 2).join(','), { uid: true })).toBe(true);
      }
    });
    const r = await t.srv.api('/api/accounts', {
      method: 'POST',
      json: { name: 'Sparse', email: `${creds.user}@example.com`, host: t.dovecot.host, port: t.dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true },
    });
    expect(r.status, r.text).toBe(201);
    const accountId = r.body.data.id as number;
    await expectEventually(async () => {
      const [row] = await sql<{ n: string }>(t.dbUrl, 'SELECT count(*) AS n FROM emails WHERE account_id = $1', [accountId]);
      expect(Number(row!.n)).toBe(350);
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect((await t.srv.api(`/api/accounts/${accountId}`)).body.data.last_error).toBeNull();

    const ids = (await sql<{ id: number }>(t.dbUrl, 'SELECT id FROM emails WHERE account_id = $1', [accountId])).map((e) => e.id);
    expect((await t.srv.api('/api/emails/bulk', { method: 'POST', json: { ids: ids.slice(0, 100), action: 'star' } })).status).toBe(200);
    await expectEventually(async () => {
      const [row] = await sql<{ n: string }>(t.dbUrl, 'SELECT count(*) AS n FROM write_backs WHERE account_id = $1', [accountId]);
      expect(Number(row!.n)).toBe(0);
    }, { timeoutMs: 15_000, intervalMs: 200 });
    await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'INBOX');
  }, 90_000);
});
