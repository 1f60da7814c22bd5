/**
 * PostgreSQL backends terminated (pg_terminate_backend) under a live first sync, with a small ORM pool. A transaction
 * whose backend dies can neither commit nor roll back, and kysely releases its connection only after one of them: each
 * such kill used to keep a pool slot for good, until every request waited forever (and shutdown with them, for the
 * pool to drain). Dead connections now go back to the pool (db/pg-guard.ts): the API answers, the sync completes with
 * every message once, and the server stops.
 */
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage, toCrlf } from '../support/imap.js';
import { useMailEnv } from '../support/mail-account.js';
import { fillMaildir } from '../support/maildir.js';
import { expectInSync, receivedEvents, sql } from '../support/sync.js';

const t = useMailEnv({
  DATABASE_POOL_MAX: '3',
  SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '2000', SYNC_LEASE_TTL_MS: '3000', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '2000',
});

describe('PostgreSQL backends terminated mid-transaction', () => {
  it('leave the ORM pool usable: the API answers and the sync completes, each message once', async () => {
    const creds = await t.dovecot.createUser();
    await fillMaildir(t.dovecot.dir, creds.user, Array.from({ length: 2000 }, (_, i) => toCrlf(buildMessage({ subject: `m ${i}`, text: `body ${i} `.repeat(200) }))));
    const r = await t.srv.api('/api/accounts', {
      method: 'POST',
      json: { name: 'Kills', email: `${creds.user}@example.com`, host: t.dovecot.host, port: t.dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true },
    });
    expect(r.status, r.text).toBe(201);
    const accountId = r.body.data.id as number;
    const database = new URL(t.dbUrl).pathname.slice(1);
    // Until more busy backends were terminated than the pool holds (how many are busy at a given moment varies).
    let kills = 0;
    let appended = 0;
    for (const started = Date.now(); kills < 6 && Date.now() - started < 30_000; ) {
      const killed = await sql(t.dbUrl, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state <> 'idle'`, [database]);
      kills += killed.length;
      if (appended < 8) await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: `during ${appended++}` }));
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(kills).toBeGreaterThan(3);
    const total = 2000 + appended;
    await expectEventually(async () => {
      const list = await t.srv.api(`/api/emails?account_id=${accountId}&per_page=1`);
      expect(list.status, list.text).toBe(200);
      expect(list.body.meta.total).toBe(total);
    }, { timeoutMs: 60_000, intervalMs: 500 });
    await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'INBOX');
    expect(await receivedEvents(t.dbUrl, accountId)).toBe(total);
  }, 120_000);
});
