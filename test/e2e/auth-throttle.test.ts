/**
 * The failed-authentication throttle over real HTTP and WebSocket: per client address and per API key, shared by two
 * server instances through PostgreSQL, X-Forwarded-For trusted only from a configured proxy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { apiRequest, startTestServer, type ApiResponse, type Credentials, type TestServer } from '../support/server.js';
import { connectWs } from '../support/ws.js';

let db: TestDatabase;
/** Two instances behind a proxy on loopback (TRUST_PROXY=loopback): tests pick the client address by X-Forwarded-For. */
let srv: TestServer;
let other: TestServer;

const LIMITS = { AUTH_FAILURES_PER_IP: '3', AUTH_FAILURES_PER_KEY: '6', AUTH_FAILURE_WINDOW_SECONDS: '60', SYNC_ENABLED: 'false' };

/** A request from `address` (as the proxy reports it). */
function from(server: TestServer, address: string, creds: Credentials | false, path = '/api/accounts', init: { method?: string; json?: unknown } = {}): Promise<ApiResponse> {
  return apiRequest(server.url, creds, path, { ...init, headers: { 'x-forwarded-for': address } });
}

/** The failures of one test fall in one 60-second window. */
async function clearOfWindowEnd(): Promise<void> {
  const s = new Date().getUTCSeconds();
  if (s > 45) await new Promise((r) => setTimeout(r, (61 - s) * 1000));
}

async function createKey(name: string): Promise<Credentials & { id: number }> {
  const r = await srv.api('/graphql', {
    method: 'POST',
    json: { query: `mutation { createApiKey(input: { name: "${name}", permissions: ["read"] }) { secret key { id publicKey } } }` },
  });
  const c = r.body.data.createApiKey;
  return { id: Number(c.key.id), key: c.key.publicKey, secret: c.secret };
}

const wrong = (c: Credentials): Credentials => ({ key: c.key, secret: `${c.secret}x` });
const unknownKey = { key: 'ink_no_such_key_0000', secret: 'some-guessed-secret' };

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { ...LIMITS, TRUST_PROXY: 'loopback' });
  other = await startTestServer(db.url, { ...LIMITS, TRUST_PROXY: 'loopback' });
});
afterAll(async () => {
  await other?.close();
  await srv?.close();
  await db?.drop();
});

describe('failed authentications per client address', () => {
  it('after N failures the address gets 429 with Retry-After on REST, GraphQL and WebSocket, right credentials included; others are unaffected', async () => {
    await clearOfWindowEnd();
    const ip = '198.51.100.1';
    for (let i = 0; i < 3; i++) expect((await from(srv, ip, unknownKey)).status).toBe(401);
    const over = await from(srv, ip, unknownKey);
    expect(over.status).toBe(429);
    expect(over.body).toEqual({ success: false, error: expect.stringContaining('Too many failed authentication attempts') });
    const retryAfter = Number(over.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);

    // The right secret from that address is refused too: answering it differently would let the guessing go on.
    const admin = { key: srv.key, secret: srv.secret };
    expect((await from(srv, ip, admin)).status).toBe(429);
    const gql = await from(srv, ip, admin, '/graphql', { method: 'POST', json: { query: '{ viewer { name } }' } });
    expect(gql.status).toBe(429);
    expect(gql.body).toEqual({ errors: [{ message: expect.stringContaining('Too many failed'), extensions: { code: 'RATE_LIMITED' } }] });
    expect(gql.headers.get('retry-after')).toBeTruthy();
    const ws = await connectWs(srv.url, admin, { 'x-forwarded-for': ip });
    expect(ws.outcome).toBe(4429);
    expect(ws.reason).toContain('retry in');
    await ws.client.dispose();

    // Another client, with or without a failure of its own, is served.
    expect((await from(srv, '198.51.100.2', admin)).status).toBe(200);
    expect((await from(srv, '198.51.100.2', unknownKey)).status).toBe(401);
    const okWs = await connectWs(srv.url, admin, { 'x-forwarded-for': '198.51.100.2' });
    expect(okWs.outcome).toBe('connected');
    await okWs.client.dispose();
    // Without credentials nothing is guessed: 401, not counted.
    for (let i = 0; i < 5; i++) expect((await from(srv, '198.51.100.3', false)).status).toBe(401);
    expect((await from(srv, '198.51.100.3', admin)).status).toBe(200);
  });

  it('the count is shared: the other instance refuses the address at its first failure there', async () => {
    await clearOfWindowEnd();
    const ip = '198.51.100.10';
    for (let i = 0; i < 3; i++) expect((await from(srv, ip, unknownKey)).status).toBe(401);
    const there = await from(other, ip, unknownKey);
    expect(there.status).toBe(429);
    expect(there.headers.get('retry-after')).toBeTruthy();
    expect((await from(other, ip, { key: srv.key, secret: srv.secret })).status).toBe(429);
  });

  it('WebSocket connection_init failures count like HTTP ones', async () => {
    await clearOfWindowEnd();
    const ip = '198.51.100.20';
    for (let i = 0; i < 3; i++) {
      const r = await connectWs(srv.url, unknownKey, { 'x-forwarded-for': ip });
      expect(r.outcome).toBe(4401);
      await r.client.dispose();
    }
    expect((await from(srv, ip, unknownKey)).status).toBe(429);
  });

  it('IPv6 clients are counted by their /64', async () => {
    await clearOfWindowEnd();
    for (let i = 0; i < 3; i++) expect((await from(srv, `2001:db8:1:2::${i + 1}`, unknownKey)).status).toBe(401);
    expect((await from(srv, '2001:db8:1:2:ffff::9', unknownKey)).status).toBe(429);
    expect((await from(srv, '2001:db8:1:3::1', { key: srv.key, secret: srv.secret })).status).toBe(200);
  });
});

describe('failed authentications per API key', () => {
  it('guesses from many addresses lock the key; clients that used it before keep it, other keys are unaffected', async () => {
    await clearOfWindowEnd();
    const k = await createKey('guessed');
    // A client of the key, before the attack.
    expect((await from(srv, '192.0.2.200', k)).status).toBe(200);
    // Six guesses from three addresses (two each: under the per-address limit of 3).
    for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) {
      for (let i = 0; i < 2; i++) expect((await from(srv, ip, wrong(k))).status).toBe(401);
    }
    const seventh = await from(srv, '192.0.2.4', wrong(k));
    expect(seventh.status).toBe(429);
    expect(Number(seventh.headers.get('retry-after'))).toBeGreaterThan(0);
    // Whoever has not used the key here is refused, right secret or not...
    expect((await from(srv, '192.0.2.5', k)).status).toBe(429);
    // ...as on the other instance, at its first failure with the key.
    expect((await from(other, '192.0.2.6', wrong(k))).status).toBe(429);
    expect((await from(other, '192.0.2.7', k)).status).toBe(429);
    // The client that authenticated with the key before goes on working.
    expect((await from(srv, '192.0.2.200', k)).status).toBe(200);
    // Other keys are not affected.
    expect((await from(srv, '192.0.2.8', { key: srv.key, secret: srv.secret })).status).toBe(200);
  });
});

describe('X-Forwarded-For without TRUST_PROXY', () => {
  it('is ignored: a client cannot pick a fresh address for each guess', async () => {
    await clearOfWindowEnd();
    const direct = await startTestServer(db.url, { ...LIMITS });
    try {
      // Counted under the socket's address (127.0.0.1), whatever the header says.
      for (let i = 0; i < 3; i++) expect((await from(direct, `203.0.113.${i}`, unknownKey)).status).toBe(401);
      expect((await from(direct, '203.0.113.99', unknownKey)).status).toBe(429);
    } finally {
      await direct.close();
    }
  });
});
