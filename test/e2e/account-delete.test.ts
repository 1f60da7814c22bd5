/**
 * DELETE /api/accounts/{id} and its `delete_emails` parameter (seed 000): with it the account's mail goes too, without
 * it the mail stays, detached; racing deletes of one account: one succeeds and its `delete_emails` holds, the others
 * are 404s; and an account deleted while its first sync is running: the pass fails cleanly, the process stays up, and
 * none of the account's mail is left behind.
 */
import { describe, expect, it } from 'vitest';
import { generateMailbox } from '../fixtures/messages.js';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { syncedAccount, useMailEnv } from '../support/mail-account.js';
import { fillMaildir } from '../support/maildir.js';
import { sql } from '../support/sync.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '600000', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000' });

const count = async (where: string, params: unknown[] = []) => Number((await sql<{ n: string }>(t.dbUrl, `SELECT count(*) AS n FROM ${where}`, params))[0]!.n);

describe('deleting an account', () => {
  it('delete_emails=1 removes its mail, attachments and threads; without it the mail stays, detached', async () => {
    const a = await syncedAccount(t, ['a1', 'a2']);
    const b = await syncedAccount(t, ['b1', 'b2']);
    await appendMessage(t.dovecot, a.creds, 'INBOX', buildMessage({ subject: 'a3', attachments: [{ filename: 'x.txt', contentType: 'text/plain', content: Buffer.from('hello') }] }));
    await expectEventually(async () => expect(await count('attachments x JOIN emails e ON e.id = x.email_id WHERE e.account_id = $1', [a.accountId])).toBe(1));
    expect(await count('threads WHERE account_id = $1', [a.accountId])).toBeGreaterThan(0);

    expect((await t.srv.api(`/api/accounts/${a.accountId}?delete_emails=1`, { method: 'DELETE' })).body).toEqual({ success: true, message: 'Account deleted' });
    for (const id of a.ids.values()) expect((await t.srv.api(`/api/emails/${id}`)).status).toBe(404);
    expect(await count('emails WHERE id = ANY($1::int[])', [[...a.ids.values()]])).toBe(0);
    expect(await count('attachments x WHERE NOT EXISTS (SELECT 1 FROM emails e WHERE e.id = x.email_id)')).toBe(0);
    expect(await count('threads WHERE account_id IS NULL')).toBe(0);

    expect((await t.srv.api(`/api/accounts/${b.accountId}`, { method: 'DELETE', json: { delete_emails: false } })).status).toBe(200);
    for (const id of b.ids.values()) {
      const r = await t.srv.api(`/api/emails/${id}`);
      expect(r.status).toBe(200);
      expect(r.body.data.account_id).toBeNull();
    }
    // Detached mail is still counted: per folder (under account_id null) as in the totals and the listing (the GETs
    // above read it).
    const stats = (await t.srv.api('/api/emails/stats')).body.data;
    const detached = await count('emails WHERE account_id IS NULL');
    expect(stats.folders).toContainEqual({ account_id: null, folder: 'INBOX', total: detached, unread: 0 });
    expect(stats.folders.reduce((n: number, f: { total: number }) => n + f.total, 0)).toBe(stats.total_emails);
    expect((await t.srv.api('/api/folders')).body.data).toEqual(stats.folders);
    const statistics = (await t.srv.api('/api/stats')).body.data;
    expect(statistics.folders.INBOX).toBe((await t.srv.api('/api/emails?folder=INBOX')).body.meta.total);
    expect((await t.srv.api('/api/accounts/1', { method: 'DELETE', json: { delete_emails: 'maybe' } })).status).toBe(400);
  });

  it('an unknown body field is a 400 that names it, and the account stays (a typo used to delete it, keeping its mail)', async () => {
    const a = await syncedAccount(t, ['typo1']);
    const r = await t.srv.api(`/api/accounts/${a.accountId}`, { method: 'DELETE', json: { delete_email: 1 } });
    expect(r.status, r.text).toBe(400);
    expect(r.body).toEqual({ success: false, error: 'Unknown field(s): delete_email' });
    expect((await t.srv.api(`/api/accounts/${a.accountId}`)).status).toBe(200);
    // The body wins over the query string, as on every write route.
    const ok = await t.srv.api(`/api/accounts/${a.accountId}?delete_emails=0`, { method: 'DELETE', json: { delete_emails: 1 } });
    expect(ok.status, ok.text).toBe(200);
    expect(await count('emails WHERE id = ANY($1::int[])', [[...a.ids.values()]])).toBe(0);
  });

  it('racing deletes with delete_emails=0 and =1: exactly one 200, the others 404, and the winner\'s choice holds', async () => {
    for (let round = 0; round < 3; round++) {
      const a = await syncedAccount(t, [`race${round}-1`, `race${round}-2`]);
      const detachedBefore = await count('emails WHERE account_id IS NULL');
      const purges = Array.from({ length: 10 }, (_, i) => i % 2 === 1);
      const answers = await Promise.all(purges.map((purge) => t.srv.api(`/api/accounts/${a.accountId}?delete_emails=${purge ? 1 : 0}`, { method: 'DELETE' })));
      const winners = answers.flatMap((r, i) => (r.status === 200 ? [i] : []));
      expect(winners, answers.map((r) => `${r.status} ${r.text}`).join('\n')).toHaveLength(1);
      for (const r of answers.filter((r) => r.status !== 200)) {
        expect(r.status).toBe(404);
        expect(r.body).toEqual({ success: false, error: `Account ${a.accountId} not found` });
      }
      // The one that answered "Account deleted" did what it was asked: the mail is gone, or kept detached.
      expect(await count('emails WHERE id = ANY($1::int[])', [[...a.ids.values()]])).toBe(purges[winners[0]!] ? 0 : 2);
      expect(await count('emails WHERE account_id IS NULL')).toBe(detachedBefore + (purges[winners[0]!] ? 0 : 2));
    }
  }, 60_000);

  it('racing deletes of one email: exactly one 200, the others 404', async () => {
    const a = await syncedAccount(t, ['doomed']);
    const id = a.ids.get('doomed')!;
    const answers = await Promise.all(Array.from({ length: 10 }, () => t.srv.api(`/api/emails/${id}`, { method: 'DELETE' })));
    expect(answers.map((r) => r.status).sort()).toEqual([200, ...Array(9).fill(404)]);
  });

  it('deleted while its first sync runs: the pass stops, the process stays up, none of its mail is left', async () => {
    const creds = await t.dovecot.createUser();
    await fillMaildir(t.dovecot.dir, creds.user, generateMailbox(1500, 11));
    const detachedBefore = await count('emails WHERE account_id IS NULL');
    const r = await t.srv.api('/api/accounts', {
      method: 'POST',
      json: { name: 'Doomed', email: `${creds.user}@example.com`, host: t.dovecot.host, port: t.dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true },
    });
    const id = r.body.data.id as number;
    await expectEventually(async () => expect(await count('emails WHERE account_id = $1', [id])).toBeGreaterThan(100), { timeoutMs: 30_000, intervalMs: 10 });
    expect(await count('emails WHERE account_id = $1', [id])).toBeLessThan(1500);
    expect((await t.srv.api(`/api/accounts/${id}?delete_emails=1`, { method: 'DELETE' })).status).toBe(200);
    // Long enough for the pass in flight to try its next chunks and for the supervisor to stop the session.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await count('emails WHERE account_id = $1', [id])).toBe(0);
    expect(await count('emails WHERE account_id IS NULL')).toBe(detachedBefore);
    expect(t.srv.server.engine.supervisor?.owned()).not.toContain(id);
    expect((await t.srv.api('/readyz', { auth: false })).status).toBe(200);
  }, 60_000);
});
