/**
 * `Idempotency-Key` on REST writes: a retry gets the first answer again (marked Idempotent-Replayed) without running
 * twice; the key with another body is 422; a retry while the first still runs is 409; keys are per API key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startSilentServer } from '../support/tcp-proxy.js';
import { apiRequest, startTestServer, type TestServer } from '../support/server.js';
import { sql } from '../support/sync.js';

let db: TestDatabase;
let srv: TestServer;
let silent: { port: number; close(): void };
beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { SYNC_ENABLED: 'false', IMAP_GREETING_TIMEOUT_MS: '1500' });
  // An "IMAP server" that accepts and never greets: testing an account on it takes IMAP_GREETING_TIMEOUT_MS.
  silent = await startSilentServer();
}, 60_000);
afterAll(async () => {
  silent?.close();
  await srv?.close();
  await db?.drop();
});

const account = (n: number, port = 143) => ({ name: `A${n}`, email: `a${n}@example.com`, host: '127.0.0.1', port, username: `u${n}`, password: 'p', encryption: 'none' });
const post = (path: string, json: unknown, key?: string) => srv.api(path, { method: 'POST', json, headers: key === undefined ? {} : { 'idempotency-key': key } });
const accounts = async () => Number((await sql<{ n: string }>(db.url, 'SELECT count(*) AS n FROM accounts'))[0]!.n);

describe('Idempotency-Key', () => {
  it('a retry replays the first answer and creates nothing more', async () => {
    const first = await post('/api/accounts', account(1), 'create-1');
    expect(first.status, first.text).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await post('/api/accounts', account(1), 'create-1');
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toMatch(/application\/json/);
    expect(again.body).toEqual(first.body);
    // The same JSON with its keys in another order (another client library, a re-serialized retry) is the same request.
    const reordered = Object.fromEntries(Object.entries(account(1)).reverse());
    const third = await post('/api/accounts', reordered, 'create-1');
    expect(third.status, third.text).toBe(201);
    expect(third.headers.get('idempotent-replayed')).toBe('true');
    expect(await accounts()).toBe(1);
    // Without a key the same request runs again: here a duplicate, refused.
    expect((await post('/api/accounts', account(1))).status).toBe(409);
  });

  it('an answer sealed under another secret key (INCOMING_SECRET_KEY changed) is a 409, and the request does not run again', async () => {
    const first = await post('/api/accounts', account(7), 'create-7');
    expect(first.status, first.text).toBe(201);
    // What another key's seal looks like to this server: it does not open.
    const [row] = await sql<{ body: string }>(db.url, `SELECT body FROM idempotency_keys WHERE key = 'create-7'`);
    expect(row!.body).toMatch(/^v1:/);
    await sql(db.url, `UPDATE idempotency_keys SET body = 'v1:' || md5(body) WHERE key = 'create-7'`);
    const again = await post('/api/accounts', account(7), 'create-7');
    expect(again.status, again.text).toBe(409);
    expect(again.body.error).toMatch(/cannot be read .*secret key changed.*not run again/);
    expect(Number((await sql<{ n: string }>(db.url, `SELECT count(*) AS n FROM accounts WHERE name = 'A7'`))[0]!.n)).toBe(1);
  });

  it('an error answer is replayed too; another body with the same key is 422', async () => {
    const bad = await post('/api/accounts', { name: '' }, 'bad-1');
    expect(bad.status).toBe(400);
    const again = await post('/api/accounts', { name: '' }, 'bad-1');
    expect(again.status).toBe(400);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await post('/api/accounts', account(2), 'bad-1');
    expect(other.status).toBe(422);
    expect(other.body).toEqual({ success: false, error: 'Idempotency-Key was already used for a different request (method, URL or body)' });
  });

  it('a retry while the first request still runs is 409; once it answered, the answer is replayed', async () => {
    const created = await post('/api/accounts', account(3, silent.port));
    const path = `/api/accounts/${created.body.data.id}/test`;
    const [a, b] = await Promise.all([post(path, {}, 'test-3'), new Promise((r) => setTimeout(r, 300)).then(() => post(path, {}, 'test-3'))]);
    expect(a.status, a.text).toBe(200);
    expect(a.body.data.connected).toBe(false);
    expect(b.status).toBe(409);
    expect(b.body.error).toMatch(/still being processed/);
    const later = await post(path, {}, 'test-3');
    expect(later.headers.get('idempotent-replayed')).toBe('true');
    expect(later.body).toEqual(a.body);
  });

  it('keys are per API key, must be printable ASCII up to 255 characters, and GET ignores them', async () => {
    const made = await srv.api('/graphql', {
      method: 'POST',
      json: { query: 'mutation { createApiKey(input: {name: "other", permissions: ["read", "write", "admin"]}) { secret key { publicKey } } }' },
    });
    const other = { key: made.body.data.createApiKey.key.publicKey as string, secret: made.body.data.createApiKey.secret as string };
    const mine = await post('/api/accounts', account(4), 'shared');
    const theirs = await apiRequest(srv.url, other, '/api/accounts', { method: 'POST', json: account(5), headers: { 'idempotency-key': 'shared' } });
    expect(mine.status).toBe(201);
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(theirs.body.data.id).not.toBe(mine.body.data.id);

    for (const key of ['x'.repeat(256), 'with space', 'é']) {
      const r = await post('/api/accounts', account(6), key);
      expect(r.status, key).toBe(400);
      expect(r.body.error).toMatch(/Idempotency-Key/);
    }
    const list = await srv.api('/api/accounts', { headers: { 'idempotency-key': 'x'.repeat(300) } });
    expect(list.status).toBe(200);
  });
});
