/**
 * Two server instances on one database, attacked together: a key's rate limit is exact across them under a concurrent
 * burst (each request its own place in the window), and one Idempotency-Key sent to both at once runs the write once.
 * (Instances share INCOMING_SECRET_KEY, as they must: stored answers and IMAP passwords are sealed with it.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { apiRequest, startTestServer, type TestServer } from '../support/server.js';
import { sql } from '../support/sync.js';

let db: TestDatabase;
let a: TestServer;
let b: TestServer;
const ENV = { SYNC_ENABLED: 'false', INCOMING_SECRET_KEY: 'ef'.repeat(32) };

beforeAll(async () => {
  db = await createTestDatabase();
  a = await startTestServer(db.url, ENV);
  b = await startTestServer(db.url, { ...ENV, INCOMING_API_KEY: a.key, INCOMING_API_SECRET: a.secret });
}, 60_000);
afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
});

describe('two instances, one database', () => {
  it('a burst split over both instances gets exactly the limit, each with its own X-RateLimit-Remaining; the rest 429 with Retry-After', async () => {
    const s = new Date().getUTCSeconds();
    if (s > 50) await new Promise((r) => setTimeout(r, (61 - s) * 1000));
    const created = await a.api('/graphql', {
      method: 'POST',
      json: { query: 'mutation { createApiKey(input: {name: "burst", permissions: ["read"], requestsPerMinute: 20}) { secret key { publicKey } } }' },
    });
    const k = { key: created.body.data.createApiKey.key.publicKey as string, secret: created.body.data.createApiKey.secret as string };
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => apiRequest((i % 2 ? a : b).url, k, '/api/accounts')));
    const ok = rs.filter((r) => r.status === 200);
    const refused = rs.filter((r) => r.status === 429);
    expect(ok).toHaveLength(20);
    expect(refused).toHaveLength(20);
    expect(ok.map((r) => Number(r.headers.get('x-ratelimit-remaining'))).sort((x, y) => y - x)).toEqual(Array.from({ length: 20 }, (_, i) => 19 - i));
    for (const r of refused) {
      expect(r.body).toEqual({ success: false, error: expect.stringMatching(/^Rate limit exceeded/) });
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(r.headers.get('x-ratelimit-limit')).toBe('20');
      expect(r.headers.get('x-ratelimit-remaining')).toBe('0');
    }
  });

  it('one Idempotency-Key sent to both instances at once creates one account; a later retry on either replays it', async () => {
    const body = { name: 'Twice', email: 'twice@example.com', host: '127.0.0.1', port: 1, username: 'u', password: 'p', encryption: 'none' };
    // Both with the admin key (b was started with a's bootstrap credentials).
    const send = (srv: TestServer) => apiRequest(srv.url, a, '/api/accounts', { method: 'POST', json: body, headers: { 'idempotency-key': 'both-at-once' } });
    const [x, y] = await Promise.all([send(a), send(b)]);
    const statuses = [x.status, y.status].sort();
    // The loser either saw the claim in progress (409) or, if the winner had answered already, got its answer replayed.
    expect([[201, 409], [201, 201]]).toContainEqual(statuses);
    expect(Number((await sql<{ n: string }>(db.url, `SELECT count(*) AS n FROM accounts WHERE name = 'Twice'`))[0]!.n)).toBe(1);
    const winner = x.status === 201 && !x.headers.get('idempotent-replayed') ? x : y;
    for (const srv of [a, b]) {
      const again = await send(srv);
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(winner.body);
    }
  });
});
