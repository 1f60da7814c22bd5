/** Account fields from real-world and hostile clients, on create and update: what is refused (400, naming the field) and what is stored. */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useMailEnv } from '../support/mail-account.js';
import { sql, waitForLockWait } from '../support/sync.js';

const t = useMailEnv({ SYNC_ENABLED: 'false', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000' });

function accountBody(overrides: Record<string, unknown> = {}) {
  return { name: 'Input rules', email: 'input@example.com', host: t.dovecot.host, port: t.dovecot.port, username: 'input', password: 'secret', encryption: 'none', ...overrides };
}
const create = (overrides: Record<string, unknown>) => t.srv.api('/api/accounts', { method: 'POST', json: accountBody(overrides) });

describe('host', () => {
  it('a long invalid name is refused at once; what is not a host name or IP address is refused; IPv6 is stored bare', async () => {
    // The host rule was one regex whose nested quantifiers backtracked exponentially: 30 characters ending in an
    // invalid one held the event loop (every request of the server) for minutes.
    const started = Date.now();
    const slow = await create({ email: 'redos@example.com', host: `${'a'.repeat(30)}!` });
    expect(slow.status).toBe(400);
    expect(slow.body.error).toBe('host: must be a host name or IP address');
    expect(Date.now() - started).toBeLessThan(2000);
    for (const host of ['1.2.3.4:993', 'a..b', '999.999.999.999', '[::1', 'imap.example.com/', '-imap.example.com']) {
      const r = await create({ email: 'bad-host@example.com', host });
      expect(r.status, host).toBe(400);
      expect(r.body.error, host).toBe('host: must be a host name or IP address');
    }
    const ok = [['imap.example.com.', 'imap.example.com.'], ['xn--fiqs8s.cn', 'xn--fiqs8s.cn'], ['10.0.0.1', '10.0.0.1'], ['::1', '::1'], ['[2001:db8::1]', '2001:db8::1']];
    for (const [i, [host, stored]] of ok.entries()) {
      const r = await create({ email: `host-${i}@example.com`, host });
      expect(r.status, r.text).toBe(201);
      expect(r.body.data.host).toBe(stored);
    }
  });
});

describe('update', () => {
  it('an account whose stored password cannot be decrypted can still be renamed or deactivated, and given a new password', async () => {
    const created = await create({ email: 'undecryptable@example.com', is_active: false });
    const id = created.body.data.id as number;
    const other = await create({ email: 'other-row@example.com' });
    // A password sealed for another row (bound to that row's id) reads like one sealed under another INCOMING_SECRET_KEY.
    await sql(t.dbUrl, 'UPDATE accounts SET password_sealed = (SELECT password_sealed FROM accounts WHERE id = $2) WHERE id = $1', [id, other.body.data.id]);
    const renamed = await t.srv.api(`/api/accounts/${id}`, { method: 'PUT', json: { name: 'Renamed', is_active: false } });
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.body.data).toMatchObject({ name: 'Renamed', is_active: false });
    const tested = await t.srv.api(`/api/accounts/${id}`, { method: 'PUT', json: { test_connection: true } });
    expect(tested.status).toBe(500);
    expect(tested.body.error).toContain('Cannot decrypt the stored password');
    const fixed = await t.srv.api(`/api/accounts/${id}`, { method: 'PUT', json: { password: 'new-secret' } });
    expect(fixed.status, fixed.text).toBe(200);
  });

  it("an update racing the account's deletion is a 404, not a 200 for a row that is gone", async () => {
    const id = (await create({ email: 'update-vs-delete@example.com' })).body.data.id as number;
    const other = new pg.Client({ connectionString: t.dbUrl });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT id FROM accounts WHERE id = $1 FOR UPDATE', [id]);
      const put = t.srv.api(`/api/accounts/${id}`, { method: 'PUT', json: { name: 'Lost update' } });
      await waitForLockWait(t.dbUrl, 'the update');
      await other.query('DELETE FROM accounts WHERE id = $1', [id]);
      await other.query('COMMIT');
      const r = await put;
      expect(r.status, r.text).toBe(404);
      expect(r.body).toEqual({ success: false, error: `Account ${id} not found` });
    } finally {
      await other.end();
    }
  });
});

describe('identity (email + host + username)', () => {
  it('an account differing only in the case of its email or host, or a trailing dot, is a duplicate: 409, on create and on update', async () => {
    const base = { email: 'support@example.com', host: 'imap.example.com', username: 'support' };
    const first = await create(base);
    expect(first.status, first.text).toBe(201);
    // The same mailbox: two sessions would sync it and store every message twice.
    for (const same of [
      { email: 'Support@Example.com' },
      { host: 'IMAP.example.com' },
      { host: 'imap.example.com.' },
      { email: ' SUPPORT@EXAMPLE.COM ', host: 'Imap.Example.Com.' },
    ]) {
      const r = await create({ ...base, ...same });
      expect(r.status, JSON.stringify(same)).toBe(409);
      expect(r.body).toEqual({ success: false, error: 'An account with this email, host and username already exists' });
    }
    // An IPv6 address is stored in its canonical form (RFC 5952), so its other spellings are the same host.
    const v6 = await create({ ...base, host: '2001:DB8:0:0:0:0:0:1' });
    expect(v6.status, v6.text).toBe(201);
    expect(v6.body.data.host).toBe('2001:db8::1');
    for (const host of ['2001:db8::1', '[2001:0db8::0:1]']) expect((await create({ ...base, host })).status, host).toBe(409);
    expect((await create({ ...base, email: 'mapped@example.com', host: '::FFFF:10.0.0.1' })).body.data.host).toBe('::ffff:10.0.0.1');
    // Another username on the same server is another mailbox.
    const other = await create({ ...base, email: 'Support@Example.com', username: 'support2' });
    expect(other.status, other.text).toBe(201);
    const otherId = other.body.data.id as number;
    for (const into of [{ username: 'support' }, { host: 'IMAP.EXAMPLE.COM', username: 'support', email: 'support@example.com' }]) {
      const r = await t.srv.api(`/api/accounts/${otherId}`, { method: 'PUT', json: into });
      expect(r.status, JSON.stringify(into)).toBe(409);
      expect(r.body).toEqual({ success: false, error: 'An account with this email, host and username already exists' });
    }
    // An account may change the case of its own fields.
    const own = await t.srv.api(`/api/accounts/${first.body.data.id}`, { method: 'PUT', json: { email: 'SUPPORT@example.com', host: 'Imap.Example.com' } });
    expect(own.status, own.text).toBe(200);
    const rows = await sql<{ n: string }>(t.dbUrl, "SELECT count(*) n FROM accounts WHERE lower(email) = 'support@example.com' AND lower(host) = 'imap.example.com' AND username = 'support'");
    expect(rows[0]!.n).toBe('1');
  });

  it('two concurrent creates of the same mailbox in different case: one 201, the others 409', async () => {
    const answers = await Promise.all(
      ['race@example.com', 'Race@example.com', 'RACE@EXAMPLE.COM', 'race@Example.com'].map((email, i) =>
        create({ email, host: i % 2 ? 'RACE.example.net' : 'race.example.net', username: 'race' }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409]);
  });
});
