/**
 * A pass stopped on purpose is no failure. Updating an account restarts its session (the supervisor stops the worker
 * and starts one with the new settings); the pass that session was running used to end as `sync.failed` — a webhook
 * alarm and a `last_error` for an account that had nothing wrong with it.
 */
import { describe, expect, it } from 'vitest';
import { buildMessage, toCrlf } from '../support/imap.js';
import { expectEventually as eventually } from '../support/eventually.js';
import { useMailEnv } from '../support/mail-account.js';
import { fillMaildir } from '../support/maildir.js';
import { sql } from '../support/sync.js';

const t = useMailEnv({ SYNC_TICK_MS: '200' });
const MESSAGES = 2000;

const stored = async (id: number) => Number((await sql<{ n: string }>(t.dbUrl, 'SELECT count(*) n FROM emails WHERE account_id = $1', [id]))[0]!.n);
const events = (id: number) => sql<{ type: string }>(t.dbUrl, `SELECT type FROM events WHERE account_id = $1 AND type LIKE 'sync.%' ORDER BY id`, [id]);

describe('a pass interrupted by an account update', () => {
  it('ends without sync.failed or last_error; the restarted session finishes the mailbox', async () => {
    const creds = await t.dovecot.createUser();
    await fillMaildir(t.dovecot.dir, creds.user, Array.from({ length: MESSAGES }, (_, i) => toCrlf(buildMessage({ subject: `m ${i}`, text: 'x'.repeat(3000) }))));
    const r = await t.srv.api('/api/accounts', {
      method: 'POST',
      json: { name: 'Busy', email: `${creds.user}@example.com`, host: t.dovecot.host, port: t.dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true },
    });
    expect(r.status, r.text).toBe(201);
    const id = r.body.data.id as number;

    // Mid-way through the first pass, rename the account: its session is stopped and started again.
    await eventually(async () => expect(await stored(id)).toBeGreaterThan(0), { timeoutMs: 60_000, intervalMs: 20 });
    const put = await t.srv.api(`/api/accounts/${id}`, { method: 'PUT', json: { name: 'Busy, renamed' } });
    expect(put.status, put.text).toBe(200);
    expect(await stored(id)).toBeLessThan(MESSAGES);

    await eventually(async () => expect(await stored(id)).toBe(MESSAGES), { timeoutMs: 120_000 });
    await eventually(async () => expect((await events(id)).map((e) => e.type)).toContain('sync.completed'), { timeoutMs: 30_000 });
    expect((await events(id)).map((e) => e.type)).not.toContain('sync.failed');
    const account = await t.srv.api(`/api/accounts/${id}`);
    expect(account.body.data.last_error ?? null).toBeNull();
  }, 180_000);
});
