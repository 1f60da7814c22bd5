/** graphql-ws on /graphql: connection_init auth, operations with the same rules as HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type Credentials, type TestServer } from '../support/server.js';

let db: TestDatabase;
let srv: TestServer;

function wsUrl(server: TestServer = srv): string {
  return `${server.url.replace('http', 'ws')}/graphql`;
}

/** Opens a client and resolves with the close code if the server closes the socket, or 'connected'. */
function connect(params: Record<string, unknown> | undefined, server: TestServer = srv): Promise<{ client: Client; outcome: number | 'connected' }> {
  return new Promise((resolve) => {
    const client = createClient({
      url: wsUrl(server),
      webSocketImpl: WebSocket,
      connectionParams: params,
      retryAttempts: 0,
      lazy: false,
      on: {
        connected: () => resolve({ client, outcome: 'connected' }),
        closed: (e) => resolve({ client, outcome: (e as { code: number }).code }),
      },
    });
  });
}

async function query(client: Client, q: string): Promise<{ data?: any; errors?: any[] }> {
  return new Promise((resolve, reject) => {
    let result: { data?: any; errors?: any[] } = {};
    client.subscribe({ query: q }, { next: (r) => (result = r as typeof result), error: (e) => (Array.isArray(e) ? resolve({ errors: e }) : reject(e)), complete: () => resolve(result) });
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url);
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

describe('graphql-ws', () => {
  it('authenticates in connection_init and runs queries with the caller context', async () => {
    const { client, outcome } = await connect({ apiKey: srv.key, apiSecret: srv.secret });
    expect(outcome).toBe('connected');
    const r = await query(client, '{ viewer { name permissions } }');
    expect(r.data.viewer).toEqual({ name: 'Bootstrap key', permissions: ['read', 'write', 'send', 'admin'] });
    const bad = await query(client, '{ nope }');
    expect(bad.errors?.[0].message).toContain('nope');
    const notFound = await query(client, '{ account(id: "424242") { id } }');
    expect(notFound.errors?.[0].extensions.code).toBe('NOT_FOUND');
    await client.dispose();
  });

  it('missing or wrong credentials close the socket with 4401', async () => {
    expect((await connect(undefined)).outcome).toBe(4401);
    expect((await connect({ apiKey: srv.key, apiSecret: 'wrong-secret-value' })).outcome).toBe(4401);
  });

  it('a key without read closes with 4403', async () => {
    const r = await srv.api('/graphql', {
      method: 'POST',
      json: { query: 'mutation { createApiKey(input: {name: "sender", permissions: ["send"]}) { secret key { publicKey } } }' },
    });
    const creds: Credentials = { key: r.body.data.createApiKey.key.publicKey, secret: r.body.data.createApiKey.secret };
    expect((await connect({ apiKey: creds.key, apiSecret: creds.secret })).outcome).toBe(4403);
  });

  it('mutations over the socket still check permissions', async () => {
    const r = await srv.api('/graphql', {
      method: 'POST',
      json: { query: 'mutation { createApiKey(input: {name: "reader-ws", permissions: ["read"]}) { secret key { publicKey } } }' },
    });
    const { client } = await connect({ apiKey: r.body.data.createApiKey.key.publicKey, apiSecret: r.body.data.createApiKey.secret });
    const denied = await query(client, 'mutation { deleteAccount(id: "1") }');
    expect(denied.errors?.[0].extensions.code).toBe('FORBIDDEN');
    await client.dispose();
  });

  it('frames over the payload limit are refused', async () => {
    const ws = new WebSocket(wsUrl(), 'graphql-transport-ws');
    const code = await new Promise<number>((resolve) => {
      ws.on('open', () => ws.send('x'.repeat(2 * 1024 * 1024)));
      ws.on('close', (c) => resolve(c));
      ws.on('error', () => undefined);
    });
    expect(code).toBe(1009);
  });
});

describe('graphql-ws with introspection off (as in production)', () => {
  let closed: TestServer;
  beforeAll(async () => {
    closed = await startTestServer(db.url, { GRAPHQL_INTROSPECTION: 'false' });
  });
  afterAll(async () => {
    await closed?.close();
  });

  it('refuses __schema/__type and hides field suggestions over the socket, as over HTTP', async () => {
    const { client } = await connect({ apiKey: closed.key, apiSecret: closed.secret }, closed);
    for (const q of ['{ __schema { types { name } } }', '{ __type(name: "Webhook") { fields { name } } }']) {
      expect((await closed.api('/graphql', { method: 'POST', json: { query: q } })).status).toBe(400);
      const r = await query(client, q);
      expect(r.data, q).toBeUndefined();
      expect(r.errors?.[0].extensions.code, q).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(r.errors?.[0].message, q).toMatch(/introspection/i);
    }
    const typo = await query(client, '{ viewr { name } }');
    expect(typo.errors?.[0].message).toContain('Cannot query field "viewr"');
    expect(typo.errors?.[0].message).not.toContain('viewer');
    expect((await query(client, '{ viewer { name } }')).data.viewer.name).toBe('Bootstrap key');
    await client.dispose();
  });
});
