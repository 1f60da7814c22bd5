/**
 * Sockets that never authenticate: the connection_init timeout closes them (4408), and each client address may have
 * only WS_MAX_UNAUTHENTICATED_PER_ADDRESS of them at once (more are closed with 4431) — without the bound, one client
 * could hold thousands of sockets that never send connection_init. Every close code has one meaning: a second
 * connection_init is 4400, not graphql-ws's 4429 (our failed-authentication throttle's code).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { expectEventually } from '../support/eventually.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { connectWs, wsUrl } from '../support/ws.js';

let db: TestDatabase;
let srv: TestServer;
const LIMIT = 3;

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, {
    SYNC_ENABLED: 'false', TRUST_PROXY: 'loopback',
    WS_MAX_UNAUTHENTICATED_PER_ADDRESS: String(LIMIT), WS_CONNECTION_INIT_TIMEOUT_MS: '1500',
  });
}, 60_000);
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

interface RawSocket {
  ws: WebSocket;
  opened: Promise<boolean>;
  closed: Promise<{ code: number; reason: string }>;
}

/** A raw graphql-transport-ws socket from `address` (X-Forwarded-For, trusted from loopback) that sends nothing. */
function raw(address: string): RawSocket {
  const ws = new WebSocket(wsUrl(srv.url), 'graphql-transport-ws', { headers: { 'x-forwarded-for': address } });
  const opened = new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    ws.once('error', () => resolve(false));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return { ws, opened, closed };
}

const stillOpen = (s: RawSocket) => s.ws.readyState === WebSocket.OPEN;

describe('unauthenticated WebSockets', () => {
  it('an address gets WS_MAX_UNAUTHENTICATED_PER_ADDRESS of them, the next is closed with 4431; other addresses and authenticated sockets are not affected', async () => {
    const held = Array.from({ length: LIMIT }, () => raw('203.0.113.7'));
    expect(await Promise.all(held.map((s) => s.opened))).toEqual([true, true, true]);
    const refused = raw('203.0.113.7');
    const closed = await refused.closed;
    expect(closed.code).toBe(4431);
    expect(closed.reason).toMatch(/waiting to authenticate/);
    expect(held.every(stillOpen)).toBe(true);

    // Another address, and the same address once authenticated, are not counted against it.
    const other = raw('203.0.113.8');
    expect(await other.opened).toBe(true);
    const authed = await connectWs(srv.url, srv, { 'x-forwarded-for': '203.0.113.9' });
    expect(authed.outcome).toBe('connected');
    const more = await Promise.all(Array.from({ length: LIMIT }, () => connectWs(srv.url, srv, { 'x-forwarded-for': '203.0.113.9' })));
    expect(more.map((c) => c.outcome)).toEqual(['connected', 'connected', 'connected']);

    // IPv6 addresses count by their /64.
    const v6 = Array.from({ length: LIMIT }, (_, i) => raw(`2001:db8:1:2::${i + 1}`));
    expect(await Promise.all(v6.map((s) => s.opened))).toEqual([true, true, true]);
    expect((await raw('2001:db8:1:2:ffff::1').closed).code).toBe(4431);

    // The connection_init timeout closes the idle ones (4408), and the address may connect again.
    const timedOut = await Promise.all(held.map((s) => s.closed));
    expect(timedOut.map((c) => c.code)).toEqual([4408, 4408, 4408]);
    await expectEventually(async () => {
      const again = raw('203.0.113.7');
      expect(await again.opened).toBe(true);
      again.ws.close();
    });
    for (const c of [authed, ...more]) await c.client.dispose();
    for (const s of [other, ...v6]) s.ws.close();
  }, 30_000);

  it('a second connection_init is a protocol error (4400), not 4429', async () => {
    const s = raw('203.0.113.20');
    expect(await s.opened).toBe(true);
    const init = JSON.stringify({ type: 'connection_init', payload: { apiKey: srv.key, apiSecret: srv.secret } });
    s.ws.send(init);
    await new Promise<void>((resolve) => s.ws.once('message', () => resolve())); // connection_ack
    s.ws.send(init);
    expect(await s.closed).toEqual({ code: 4400, reason: 'Too many initialisation requests' });
  });
});
