/**
 * Hostile and broken graphql-ws clients: ones that do not read (whatever the server would send them must not pile up
 * in its memory: a socket whose unsent output passes WS_MAX_BUFFERED_BYTES is dropped), ones that open operations
 * without end on one socket, and ones that never answer the close frame at shutdown.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { WS_MAX_OPERATIONS } from '../../src/graphql/ws.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { expectEventually } from '../support/eventually.js';
import { collect, connectWs, wsUrl } from '../support/ws.js';

let db: TestDatabase;
let srv: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { WS_MAX_BUFFERED_BYTES: String(1024 * 1024), SYNC_ENABLED: 'false', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000' });
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

/** An authenticated raw socket (connection_ack read), which then stops reading. */
async function stalledClient(server: TestServer = srv): Promise<WebSocket> {
  const ws = new WebSocket(wsUrl(server.url), 'graphql-transport-ws');
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { apiKey: server.key, apiSecret: server.secret } })));
    ws.once('message', (m) => (JSON.parse(String(m)).type === 'connection_ack' ? resolve() : reject(new Error(String(m)))));
    ws.once('close', (code) => reject(new Error(`closed ${code}`)));
  });
  (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  return ws;
}

/** Sends `message` up to `times` times; resolves with how many went out before the server dropped the socket. */
async function sendUntilDropped(ws: WebSocket, message: string, times: number): Promise<number> {
  let closed = false;
  ws.once('close', () => (closed = true));
  for (let i = 0; i < times; i++) {
    if (closed) return i;
    const ok = await new Promise<boolean>((resolve) => ws.send(message, (err) => resolve(!err)));
    if (!ok) return i;
    // Unsolicited pongs: the keep-alive's ping check is satisfied although the client reads nothing.
    ws.pong();
  }
  return times;
}

describe('WebSocket clients that never read', () => {
  it('pings with large payloads (each echoed in a pong) get the socket dropped instead of buffering without bound', async () => {
    const ws = await stalledClient();
    const ping = JSON.stringify({ type: 'ping', payload: { pad: 'x'.repeat(256 * 1024) } });
    // 200 × 256 KiB = 50 MiB of pongs; kernel buffers on loopback take ~10 MiB, then the server must give up.
    const sent = await sendUntilDropped(ws, ping, 200);
    expect(sent).toBeLessThan(200);
    ws.terminate();
  });
});

describe('protocol errors', () => {
  // Each printed a stack trace to stderr as "Internal error emitted on a WebSocket socket. Please check your
  // implementation" (graphql-ws's handler): ~870 bytes of unstructured output for a 14-byte frame header, from
  // clients that need no credentials.
  it('an oversized frame closes with 1009 and is not printed to the console as an internal error', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const ws = new WebSocket(wsUrl(srv.url), 'graphql-transport-ws');
      ws.on('error', () => undefined);
      const code = await new Promise<number>((resolve) => {
        ws.on('open', () => ws.send('x'.repeat(2 * 1024 * 1024)));
        ws.on('close', (c) => resolve(c));
      });
      expect(code).toBe(1009);
      expect(printed).not.toHaveBeenCalled();
    } finally {
      printed.mockRestore();
    }
  });
});

describe('close reasons', () => {
  // graphql-ws closes a reused id with 4409 "Subscriber for <id> already exists"; ws refuses reasons over 123 bytes,
  // so a long id threw inside the message handler: a stack trace on stderr ("Internal error occurred during message
  // handling") and 4500 instead of 4409.
  it('a reused long operation id closes with 4409, with nothing printed to the console', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const ws = await new Promise<WebSocket>((resolve) => {
        const s = new WebSocket(wsUrl(srv.url), 'graphql-transport-ws');
        s.on('error', () => undefined);
        s.once('open', () => s.send(JSON.stringify({ type: 'connection_init', payload: { apiKey: srv.key, apiSecret: srv.secret } })));
        s.once('message', () => resolve(s));
      });
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      const subscribe = JSON.stringify({ id: 'é'.repeat(200), type: 'subscribe', payload: { query: 'subscription { events { seq } }' } });
      ws.send(subscribe);
      ws.send(subscribe);
      expect(await closed).toBe(4409);
      expect(printed).not.toHaveBeenCalled();
    } finally {
      printed.mockRestore();
    }
  });
});

describe('operations on one socket', () => {
  it(`at most ${WS_MAX_OPERATIONS} at once: more are refused until some complete`, async () => {
    const { client, outcome } = await connectWs(srv.url, srv);
    expect(outcome).toBe('connected');
    const before = srv.server.events.size;
    const subs = Array.from({ length: WS_MAX_OPERATIONS }, () => collect(client, 'subscription { events { seq } }'));
    await expectEventually(() => expect(srv.server.events.size).toBe(before + WS_MAX_OPERATIONS));
    const refused = collect(client, 'subscription { events { seq } }');
    await Promise.race([refused.ended, new Promise((r) => setTimeout(r, 5000))]);
    expect(refused.errors).toMatchObject([{ extensions: { code: 'RATE_LIMITED' }, message: expect.stringContaining('operations') }]);
    subs[0]!.stop();
    await expectEventually(() => expect(srv.server.events.size).toBe(before + WS_MAX_OPERATIONS - 1));
    const again = collect(client, 'subscription { events { seq } }');
    await expectEventually(() => expect(srv.server.events.size).toBe(before + WS_MAX_OPERATIONS));
    expect(again.errors).toEqual([]);
    await client.dispose();
  });
});

describe('connections per key', () => {
  it('past WS_MAX_CONNECTIONS_PER_KEY a key gets 4430; once one closes it may connect again; other keys are not affected', async () => {
    const own = await startTestServer(db.url, { SYNC_ENABLED: 'false', WS_MAX_CONNECTIONS_PER_KEY: '3' });
    try {
      const open = await Promise.all([1, 2, 3].map(() => connectWs(own.url, own)));
      expect(open.map((c) => c.outcome)).toEqual(['connected', 'connected', 'connected']);
      const refused = await connectWs(own.url, own);
      expect(refused.outcome).toBe(4430);
      expect(refused.reason).toContain('connections');
      const created = await own.api('/graphql', {
        method: 'POST',
        json: { query: 'mutation { createApiKey(input: {name: "other", permissions: ["read"]}) { secret key { publicKey } } }' },
      });
      const other = { key: created.body.data.createApiKey.key.publicKey, secret: created.body.data.createApiKey.secret };
      const otherKey = await connectWs(own.url, other);
      expect(otherKey.outcome).toBe('connected');
      await open[0]!.client.dispose();
      await expectEventually(async () => {
        const again = await connectWs(own.url, own);
        expect(again.outcome).toBe('connected');
        await again.client.dispose();
      });
      for (const c of [...open.slice(1), refused, otherKey]) await c.client.dispose();
    } finally {
      await own.close();
    }
  });
});

describe('shutdown with a client that does not answer', () => {
  // A client whose network went away (a laptop lid closed) never answers the close frame: ws waits 30 s for it, and
  // the shutdown waited with it, past SHUTDOWN_TIMEOUT_MS (15 s), then a forced exit skipped the rest of the cleanup.
  it('does not wait for its close handshake', async () => {
    const own = await startTestServer(db.url, { SYNC_ENABLED: 'false' });
    const ws = await stalledClient(own);
    await own.close();
    ws.terminate();
  }, 20_000);
});
