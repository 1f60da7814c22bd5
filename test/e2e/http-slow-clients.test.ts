/**
 * Clients that send their request slowly hold a connection each. Without credentials, trickling a declared body after
 * the 401 held one for as long as the client liked (Node reads and discards the rest to reuse the connection); with
 * credentials, so did a body trickled a byte at a time (Fastify turns Node's request timeout off). Now an error
 * answered before the body arrived closes the connection, and a request must arrive whole within
 * HTTP_REQUEST_TIMEOUT_MS (408); a handler that takes longer than that is not cut.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startSilentServer } from '../support/tcp-proxy.js';
import { connectWs } from '../support/ws.js';

let db: TestDatabase;
let srv: TestServer;
let silent: { port: number; close(): void };
const TIMEOUT_MS = 2000;

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { SYNC_ENABLED: 'false', HTTP_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS), IMAP_GREETING_TIMEOUT_MS: '3500' });
  silent = await startSilentServer();
}, 60_000);
afterAll(async () => {
  silent?.close();
  await srv?.close();
  await db?.drop();
});

/** Sends `head` on a raw connection, then a byte every 100 ms; resolves with what came back when the server closes it. */
function trickle(head: string): Promise<{ ms: number; answer: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(srv.url);
    const started = Date.now();
    const socket = connect(Number(port), hostname, () => socket.write(head));
    let answer = '';
    const timer = setInterval(() => socket.writable && socket.write('a'), 100);
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after 15 s; got ${JSON.stringify(answer.slice(0, 80))}`));
    }, 15_000);
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ ms: Date.now() - started, answer });
    });
  });
}

const post = (extra: string) => `POST /api/accounts HTTP/1.1\r\nHost: x\r\n${extra}Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n`;

describe('slow HTTP clients', () => {
  it('without credentials: the 401 closes the connection instead of reading the trickled body', async () => {
    const r = await trickle(post(''));
    expect(r.answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(r.answer).toMatch(/connection: close/i);
    expect(r.ms).toBeLessThan(1500);
  });

  it('with credentials: a body trickled past HTTP_REQUEST_TIMEOUT_MS gets 408 and the connection closes', async () => {
    const r = await trickle(post(`X-API-Key: ${srv.key}\r\nX-API-Secret: ${srv.secret}\r\n`));
    expect(r.answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
    expect(r.ms).toBeLessThan(TIMEOUT_MS + 2500);
  });

  it('headers trickled past the timeout: 408, closed', async () => {
    const r = await trickle('GET /api/accounts HTTP/1.1\r\nHost: x\r\nX-Pad: ');
    expect(r.answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(r.ms).toBeLessThan(TIMEOUT_MS + 2500);
  });

  it('a handler slower than the timeout still answers (only receiving the request is timed)', async () => {
    const created = await srv.api('/api/accounts', {
      method: 'POST',
      json: { name: 'Silent', email: 'silent@example.com', host: '127.0.0.1', port: silent.port, username: 'u', password: 'p', encryption: 'none' },
    });
    expect(created.status, created.text).toBe(201);
    const started = Date.now();
    const tested = await srv.api(`/api/accounts/${created.body.data.id}/test`, { method: 'POST' });
    expect(Date.now() - started).toBeGreaterThan(TIMEOUT_MS + 1000);
    expect(tested.status, tested.text).toBe(200);
    expect(tested.body.data.connected).toBe(false);
  }, 20_000);

  it('a WebSocket (an upgraded request) outlives the timeout and keeps working', async () => {
    const ws = await connectWs(srv.url, srv);
    expect(ws.outcome).toBe('connected');
    let closed: unknown = null;
    ws.client.on('closed', (e) => (closed = e));
    await new Promise((r) => setTimeout(r, TIMEOUT_MS + 2000));
    expect(closed).toBeNull();
    const answer = await new Promise<unknown>((resolve, reject) => {
      ws.client.subscribe({ query: '{ __typename }' }, { next: resolve, error: reject, complete: () => undefined });
    });
    expect(answer).toEqual({ data: { __typename: 'Query' } });
    await ws.client.dispose();
  }, 20_000);
});
