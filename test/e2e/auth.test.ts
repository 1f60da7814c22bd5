/** Authentication, permissions, rate limits and error envelopes over real HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { apiRequest, startTestServer, type Credentials, type TestServer } from '../support/server.js';
import { expectEventually } from '../support/eventually.js';
import { sql } from '../support/sync.js';

let db: TestDatabase;
let srv: TestServer;

async function createKey(input: Record<string, unknown>): Promise<Credentials & { id: number }> {
  const r = await srv.api('/graphql', {
    method: 'POST',
    json: {
      query: 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret key { id publicKey } } }',
      variables: { i: input },
    },
  });
  expect(r.body.errors).toBeUndefined();
  const c = r.body.data.createApiKey;
  return { id: Number(c.key.id), key: c.key.publicKey, secret: c.secret };
}

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url);
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

describe('POST /api/auth/validate', () => {
  it('returns exactly the documented shape', async () => {
    const r = await srv.api('/api/auth/validate', { method: 'POST' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      success: true,
      data: {
        valid: true,
        key: {
          id: expect.any(Number),
          name: 'Bootstrap key',
          permissions: ['read', 'write', 'send', 'admin'],
          rate_limit: { requests_per_minute: 60, requests_per_hour: 1000 },
        },
      },
    });
  });

  it('401 in the envelope without or with wrong credentials', async () => {
    const none = await srv.api('/api/auth/validate', { method: 'POST', auth: false });
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ success: false, error: expect.stringContaining('X-API-Key') });
    const wrong = await srv.api('/api/auth/validate', { method: 'POST', auth: { key: srv.key, secret: `${srv.secret}x` } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.success).toBe(false);
    const unknown = await srv.api('/api/accounts', { auth: { key: 'ink_nope', secret: 'whatever-secret' } });
    expect(unknown.status).toBe(401);
  });

  it('a revoked key no longer authenticates', async () => {
    const k = await createKey({ name: 'temp', permissions: ['read'] });
    expect((await srv.api('/api/accounts', { auth: k })).status).toBe(200);
    const r = await srv.api('/graphql', { method: 'POST', json: { query: `mutation { revokeApiKey(id: "${k.id}") { revokedAt } }` } });
    expect(r.body.data.revokeApiKey.revokedAt).toBeTruthy();
    expect((await srv.api('/api/accounts', { auth: k })).status).toBe(401);
  });

  it('a key revoked through one instance is refused by another at once, though that one had it cached', async () => {
    const other = await startTestServer(db.url);
    try {
      const k = await createKey({ name: 'cached elsewhere', permissions: ['read'] });
      expect((await apiRequest(other.url, k, '/api/accounts')).status).toBe(200);
      await srv.api('/graphql', { method: 'POST', json: { query: `mutation { revokeApiKey(id: "${k.id}") { id } }` } });
      // The NOTIFY arrives in milliseconds; the key cache's TTL is 5 s.
      await expectEventually(() => apiRequest(other.url, k, '/api/accounts').then((r) => expect(r.status).toBe(401)), { timeoutMs: 1500 });
    } finally {
      await other.close();
    }
  });

  it('GraphQL offers the same (viewer / validateKey)', async () => {
    const r = await srv.api('/graphql', { method: 'POST', json: { query: '{ viewer { name permissions rateLimit { requestsPerMinute } } }' } });
    expect(r.body.data.viewer).toEqual({ name: 'Bootstrap key', permissions: ['read', 'write', 'send', 'admin'], rateLimit: { requestsPerMinute: 60 } });
    const anon = await srv.api('/graphql', { method: 'POST', json: { query: '{ viewer { name } }' }, auth: false });
    expect(anon.status).toBe(401);
    expect(anon.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('permissions', () => {
  it('missing permission → 403 (REST) and FORBIDDEN (GraphQL)', async () => {
    const reader = await createKey({ name: 'reader', permissions: ['read'] });
    const rest = await srv.api('/api/accounts', { method: 'POST', auth: reader, json: { name: 'x' } });
    expect(rest.status).toBe(403);
    expect(rest.body).toEqual({ success: false, error: expect.stringContaining('write') });
    const gql = await srv.api('/graphql', { method: 'POST', auth: reader, json: { query: '{ apiKeys { id } }' } });
    expect(gql.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });

  it('unknown permissions are refused naming them', async () => {
    const r = await srv.api('/graphql', {
      method: 'POST',
      json: { query: 'mutation { createApiKey(input: {name: "x", permissions: ["read", "root"]}) { secret } }' },
    });
    expect(r.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors[0].message).toContain('root');
  });

  it('a key scoped to an account id no account has is refused (it would see the account created under it later)', async () => {
    for (const ids of ['[999999]', '[0]', '[-1]']) {
      const r = await srv.api('/graphql', {
        method: 'POST',
        json: { query: `mutation { createApiKey(input: {name: "x", permissions: ["read"], accountIds: ${ids}}) { secret } }` },
      });
      expect(r.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(r.body.errors[0].message).toContain('account_ids: no account has the id');
    }
  });
});

describe('key management', () => {
  it('needs an unscoped key: a scoped admin key cannot mint a key beyond its accounts, list or revoke keys (403)', async () => {
    const acc = await srv.api('/api/accounts', {
      method: 'POST',
      json: { name: 'Scoped admin', email: 'scoped-admin@example.com', host: '127.0.0.1', port: 1, username: 'u', password: 'p', encryption: 'none', is_active: false },
    });
    expect(acc.status, acc.text).toBe(201);
    const accountId = acc.body.data.id as number;
    const scopedAdmin = await createKey({ name: 'scoped admin', permissions: ['read', 'admin'], accountIds: [accountId] });
    const victim = await createKey({ name: 'victim', permissions: ['read'] });
    for (const query of [
      'mutation { createApiKey(input: {name: "escalated", permissions: ["read", "admin"]}) { secret key { publicKey } } }',
      `mutation { createApiKey(input: {name: "same scope", permissions: ["read"], accountIds: [${accountId}]}) { secret } }`,
      '{ apiKeys { id name accountIds } }',
      `mutation { revokeApiKey(id: "${victim.id}") { id } }`,
    ]) {
      const r = await apiRequest(srv.url, scopedAdmin, '/graphql', { method: 'POST', json: { query } });
      expect(r.body.errors?.[0]?.extensions.code, `${query}\n${r.text}`).toBe('FORBIDDEN');
      expect(r.body.errors[0].message).toBe('This API key is limited to specific accounts and cannot manage API keys');
    }
    expect((await apiRequest(srv.url, victim, '/api/auth/validate', { method: 'POST' })).status).toBe(200);
    // Its scope still holds for everything else it may do.
    expect((await apiRequest(srv.url, scopedAdmin, `/api/accounts/${accountId}`)).status).toBe(200);
  });
});

describe('rate limits', () => {
  it('the 61st request in a minute is 429 with Retry-After; headers on every response', async () => {
    // Stay clear of a minute boundary so all 61 requests fall in one window.
    const s = new Date().getUTCSeconds();
    if (s > 45) await new Promise((r) => setTimeout(r, (61 - s) * 1000));
    const k = await createKey({ name: 'limited', permissions: ['read'], requestsPerMinute: 60 });
    for (let i = 1; i <= 60; i++) {
      const r = await apiRequest(srv.url, k, '/api/accounts');
      expect(r.status).toBe(200);
      expect(r.headers.get('x-ratelimit-limit')).toBe('60');
      expect(r.headers.get('x-ratelimit-remaining')).toBe(String(60 - i));
      expect(Number(r.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    }
    const over = await apiRequest(srv.url, k, '/api/accounts');
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.body).toEqual({ success: false, error: expect.stringContaining('Rate limit') });
    // Another key has its own budget.
    expect((await srv.api('/api/accounts')).status).toBe(200);
  });

  it('concurrent requests are counted exactly: each gets its own place in the window', async () => {
    const s = new Date().getUTCSeconds();
    if (s > 50) await new Promise((r) => setTimeout(r, (61 - s) * 1000));
    const k = await createKey({ name: 'burst', permissions: ['read'], requestsPerMinute: 20 });
    const rs = await Promise.all(Array.from({ length: 30 }, () => apiRequest(srv.url, k, '/api/auth/validate', { method: 'POST' })));
    const ok = rs.filter((r) => r.status === 200);
    expect(ok).toHaveLength(20);
    expect(rs.filter((r) => r.status === 429)).toHaveLength(10);
    // Requests counted in one upsert still see distinct remainders, 19 down to 0.
    expect(ok.map((r) => Number(r.headers.get('x-ratelimit-remaining'))).sort((a, b) => b - a)).toEqual(Array.from({ length: 20 }, (_, i) => 19 - i));
    const [row] = await sql<{ count: number }>(db.url, `SELECT count FROM rate_limit_counters WHERE key_id = $1 AND bucket = 'minute'`, [k.id]);
    expect(row!.count).toBe(30);
  });

  it('the hourly limit holds too', async () => {
    const k = await createKey({ name: 'hourly', permissions: ['read'], requestsPerMinute: 100, requestsPerHour: 3 });
    for (let i = 0; i < 3; i++) expect((await apiRequest(srv.url, k, '/api/accounts')).status).toBe(200);
    const over = await apiRequest(srv.url, k, '/api/accounts');
    expect(over.status).toBe(429);
    expect(over.headers.get('x-ratelimit-limit')).toBe('3');
  });

  it('requests refused by the per-minute limit do not use up the hourly budget', async () => {
    const s = new Date().getUTCSeconds();
    if (s > 45) await new Promise((r) => setTimeout(r, (61 - s) * 1000));
    const k = await createKey({ name: 'impatient', permissions: ['read'], requestsPerMinute: 3, requestsPerHour: 5 });
    // A client that ignores Retry-After: one by one, then a burst (counted together in one upsert).
    const one = [];
    for (let i = 0; i < 8; i++) one.push((await apiRequest(srv.url, k, '/api/accounts')).status);
    expect(one).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
    const burst = await Promise.all(Array.from({ length: 10 }, () => apiRequest(srv.url, k, '/api/accounts')));
    expect(burst.every((r) => r.status === 429)).toBe(true);
    const hour = () => sql<{ count: number }>(db.url, `SELECT count FROM rate_limit_counters WHERE key_id = $1 AND bucket = 'hour'`, [k.id]);
    expect((await hour())[0]!.count).toBe(3);
    // The next minute (this minute's window moved into the past): the two requests left in the hour are served.
    await sql(db.url, `UPDATE rate_limit_counters SET window_start = window_start - interval '1 minute' WHERE key_id = $1 AND bucket = 'minute'`, [k.id]);
    const next = await Promise.all(Array.from({ length: 4 }, () => apiRequest(srv.url, k, '/api/accounts')));
    expect(next.map((r) => r.status).sort()).toEqual([200, 200, 429, 429]);
    const refused = next.find((r) => r.status === 429)!;
    // Refused now by the hour: the answer says so, and to wait for the hour's end.
    expect(refused.headers.get('x-ratelimit-limit')).toBe('5');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // The minute admitted three: all three counted in the hour, the third over its limit.
    expect((await hour())[0]!.count).toBe(6);
  });

  it('a key whose hourly budget is spent is told to wait for the hour, also when its minute is full', async () => {
    const s = new Date().getUTCSeconds();
    if (s > 45) await new Promise((r) => setTimeout(r, (61 - s) * 1000));
    const k = await createKey({ name: 'spent', permissions: ['read'], requestsPerMinute: 2, requestsPerHour: 2 });
    for (let i = 0; i < 2; i++) expect((await apiRequest(srv.url, k, '/api/accounts')).status).toBe(200);
    const over = await apiRequest(srv.url, k, '/api/accounts');
    expect(over.status).toBe(429);
    expect(over.headers.get('x-ratelimit-limit')).toBe('2');
    const hourEnd = Math.ceil(Date.now() / 3_600_000) * 3600;
    expect(Number(over.headers.get('x-ratelimit-reset'))).toBe(hourEnd);
  });
});

describe('errors and bad input', () => {
  it('malformed JSON → 400 envelope', async () => {
    const r = await srv.api('/api/accounts', { method: 'POST', body: '{"name": "x', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ success: false, error: 'Malformed JSON in request body' });
  });

  it('an empty body sent as application/json is no body; a body of another type → 415', async () => {
    const json = { 'content-type': 'application/json' };
    // As many clients send a DELETE: the route answers (404, unknown id), not Fastify's "Body cannot be empty".
    const del = await srv.api('/api/webhooks/999999', { method: 'DELETE', body: '', headers: json });
    expect(del.status).toBe(404);
    const post = await srv.api('/api/accounts', { method: 'POST', body: ' ', headers: json });
    expect(post.status).toBe(400);
    expect(post.body.error).not.toMatch(/Body cannot be empty/);
    const text = await srv.api('/api/accounts', { method: 'POST', body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(text.status).toBe(415);
    expect(text.body).toEqual({ success: false, error: 'Unsupported Content-Type: send the body as application/json' });
  });

  it('body over the limit → 413 envelope', async () => {
    const r = await srv.api('/api/accounts', { method: 'POST', json: { name: 'x'.repeat(2 * 1024 * 1024) } });
    expect(r.status).toBe(413);
    expect(r.body.success).toBe(false);
  });

  it('unknown path → 404 envelope; unknown account id → 404; bad id → 400', async () => {
    const r = await srv.api('/api/nothing-here');
    expect(r.status).toBe(404);
    expect(r.body.success).toBe(false);
    expect((await srv.api('/api/accounts/999999')).status).toBe(404);
    const bad = await srv.api('/api/accounts/abc');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain('id');
  });

  it('GraphQL: depth limit and validation errors carry codes, never stack traces', async () => {
    const strict = await startTestServer(db.url, { GRAPHQL_MAX_DEPTH: '3' });
    try {
      const deep = '{ accounts { stats { byFolder { folder } } } }';
      const tooDeep = await strict.api('/graphql', { method: 'POST', json: { query: deep } });
      expect(tooDeep.body.errors[0].message).toMatch(/depth/i);
      expect(tooDeep.body.data).toBeUndefined();
      expect((await strict.api('/graphql', { method: 'POST', json: { query: '{ accounts { stats { totalEmails } } }' } })).body.errors).toBeUndefined();
    } finally {
      await strict.close();
    }
    const syntax = await srv.api('/graphql', { method: 'POST', json: { query: '{ accounts { ' } });
    expect(syntax.status).toBe(400);
    expect(syntax.body.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    const bad = await srv.api('/graphql', { method: 'POST', json: { query: '{ nope }' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(bad.body)).not.toMatch(/stacktrace|at .*\.ts:/);
  });

  it('health is public, readiness checks the database', async () => {
    expect((await srv.api('/healthz', { auth: false })).body).toEqual({ status: 'ok' });
    const ready = await srv.api('/readyz', { auth: false });
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
  });

  it('responses carry a request id (an incoming X-Request-Id is kept)', async () => {
    const r = await srv.api('/healthz', { auth: false, headers: { 'x-request-id': 'abc-123' } });
    expect(r.headers.get('x-request-id')).toBe('abc-123');
  });
});
