/**
 * No 500s on bad input: every REST route (and the attachment downloads) gets malformed path ids, hostile query
 * values and hostile JSON bodies. Whatever the route, the answer is a 4xx (or a 2xx where the input happens to be
 * acceptable) in the documented envelope — never a 5xx. A small seeded database gives the ids something to find.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restRoutes } from '../../src/rest/routes/index.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type ApiResponse, type TestServer } from '../support/server.js';
import { sql } from '../support/sync.js';

let db: TestDatabase;
let srv: TestServer;
beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { SYNC_ENABLED: 'false', RATE_LIMIT_PER_MINUTE: '1000000', RATE_LIMIT_PER_HOUR: '10000000' });
  // An account whose IMAP server refuses connections (port 1): routes that reach it must answer 4xx, not 5xx.
  const created = await srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'Seed', email: 'seed@example.com', host: '127.0.0.1', port: 1, username: 'seed', password: 'pw', encryption: 'none', is_active: false },
  });
  expect(created.status, created.text).toBe(201);
  const account = { id: created.body.data.id as number };
  await sql(
    db.url,
    `INSERT INTO emails (account_id, folder, uid_validity, uid, header_hash, to_addresses, cc_addresses, headers, "references", received_at, flags, raw_blob, subject, created_at, updated_at)
     VALUES ($1, 'INBOX', 1, 1, 'h', '[]', '[]', '{}', '[]', now(), '[]', $2, 'Seed', now(), now())`,
    [account.id, '0'.repeat(64)],
  );
}, 60_000);
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

// %E9 and %zz are not valid percent-encoded UTF-8: Fastify refuses them before routing (FST_ERR_BAD_URL).
const IDS = ['0', '-1', '1.5', 'abc', '1e3', '99999999999999999999', '%00', '%E2%80%AE', '%E9', '%zz', 'null', '1;DROP TABLE emails', '1', ' 1'];
const VALUES = ['', '-1', '0', '1e309', 'NaN', '99999999999999999999', 'true', 'yes', '%00', '%FF', "'", '\\', '[]', '{}', 'x'.repeat(5000), '2024-13-45', '0000-01-01', '9999-12-31', '<script>'];
const KEYS = ['page', 'per_page', 'limit', 'sort', 'order', 'account_id', 'folder', 'from', 'subject', 'search', 'q', 'has_attachments', 'is_read', 'since', 'until', 'inline', 'full_resync', 'since_date'];
const BODIES: (string | undefined)[] = [
  undefined,
  '',
  'not json',
  '{"unterminated": ',
  'null',
  '[]',
  '"string"',
  '12',
  JSON.stringify({ ids: 'all', action: 42, name: { nested: true }, url: ['x'], email: 7, port: 'ten', events: 'x', is_read: 'yes', category_ids: [null], delete_mode: null, sync_folders: 'INBOX', since_date: 'yesterday', folder: {} }),
  JSON.stringify({ ids: Array.from({ length: 5000 }, (_, i) => i), action: 'mark_read' }),
  JSON.stringify({ ids: [-1, 0, 1.5, '1', 2 ** 53], action: 'delete' }),
  JSON.stringify({ name: 'x'.repeat(100_000), url: 'http://[::1', email: 'not-an-email', host: '', port: 70000, events: ['no.such.event'] }),
  JSON.stringify({ __proto__: { admin: true }, constructor: { prototype: { x: 1 } } }),
];

const paths = [...restRoutes.map((r) => ({ method: r.method, path: r.path })), { method: 'GET', path: '/api/attachments/:id/download' }, { method: 'GET', path: '/api/emails/:id/attachments/:attachmentId' }];
const fill = (p: string, id: string) => p.replace(/:[a-zA-Z]+/g, id);

/** Routes that talk to the account's IMAP server, which refuses connections: 502 UPSTREAM_ERROR is their answer. */
const REACHES_IMAP = /^\S+ \/api\/accounts\/1\/(folders|test|sync)\b/;

function check(res: ApiResponse, what: string): void {
  const upstream = res.status === 502 && REACHES_IMAP.test(what);
  if (!upstream) expect(res.status, `${what} → ${res.status} ${res.text.slice(0, 300)}`).toBeLessThan(500);
  if (res.status >= 400 && res.headers.get('content-type')?.includes('json')) {
    expect(res.body?.success, `${what}: ${res.text.slice(0, 300)}`).toBe(false);
    expect(typeof res.body?.error, what).toBe('string');
  }
}

describe('hostile input never makes a 5xx', () => {
  it('malformed path ids', async () => {
    for (const { method, path } of paths) {
      if (!path.includes(':')) continue;
      for (const id of IDS) {
        // The seeded account and email stay for the other cases (which then reach past the 404s).
        if (method === 'DELETE' && id.trim() === '1') continue;
        const p = fill(path, id);
        check(await srv.api(p, { method, ...(method === 'GET' || method === 'DELETE' ? {} : { json: {} }) }), `${method} ${p}`);
      }
    }
  });

  it('hostile query values, repeated keys and unknown keys', async () => {
    for (const { path } of paths.filter((r) => r.method === 'GET')) {
      const base = fill(path, '1');
      // One key at a time, its variants in parallel (a route that reaches the refusing IMAP server waits on each).
      for (const key of KEYS) {
        const queries = [...VALUES.map((v) => `${key}=${encodeURIComponent(v)}`), `${key}=1&${key}=2`, `${key}[a]=1`];
        const answers = await Promise.all(queries.map((q) => srv.api(`${base}?${q}`)));
        answers.forEach((res, i) => check(res, `GET ${base}?${queries[i]!.slice(0, 40)}`));
      }
    }
  }, 120_000);

  it('hostile bodies, also without or with the wrong content type', async () => {
    for (const { method, path } of paths.filter((r) => r.method !== 'GET')) {
      const p = fill(path, '1');
      for (const body of BODIES) {
        check(await srv.api(p, { method, body, headers: body === undefined ? {} : { 'content-type': 'application/json' } }), `${method} ${p} ${String(body).slice(0, 40)}`);
      }
      check(await srv.api(p, { method, body: '{"a":1}', headers: { 'content-type': 'text/plain' } }), `${method} ${p} text/plain`);
      check(await srv.api(p, { method, body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), `${method} ${p} form`);
    }
  }, 120_000);

  it('requests refused by the HTTP parser (a URL over the header limit, malformed HTTP) get the envelope too', async () => {
    const long = await srv.api(`/api/emails?search=${'x'.repeat(20_000)}`);
    expect(long.status).toBe(431);
    expect(long.body).toEqual({ success: false, error: expect.stringContaining('too large') });
    const raw = await new Promise<string>((resolve, reject) => {
      const url = new URL(srv.url);
      const socket = net.connect(Number(url.port), url.hostname, () => socket.end('NOT HTTP AT ALL\r\n\r\n'));
      let answer = '';
      socket.on('data', (d) => (answer += d.toString()));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({ success: false, error: 'Malformed HTTP request' });
  });

  it('GraphQL: malformed documents, variables of the wrong type, huge queries', async () => {
    const docs = [
      '{',
      'query { emails(perPage: -1) { totalCount } }',
      'query { emails(page: 99999999999) { totalCount } }',
      'query($id: ID!) { email(id: $id) { id } }',
      'mutation { deleteEmail(id: "abc") }',
      `query { ${'emails { totalCount } '.repeat(500)} }`,
      `query { emails { nodes { ${'thread { emails { '.repeat(30)}id${' } }'.repeat(30)} } } }`,
    ];
    for (const query of docs) {
      for (const variables of [undefined, { id: { $gt: 1 } }, { id: null }, 'str']) {
        const res = await srv.api('/graphql', { method: 'POST', json: { query, variables } });
        expect(res.status, `${query.slice(0, 60)} → ${res.text.slice(0, 200)}`).toBeLessThan(500);
      }
    }
    for (const body of ['', 'nope', '[]', '{"query": 5}']) {
      const res = await srv.api('/graphql', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      expect(res.status, body).toBeLessThan(500);
    }
  });
});

// PostgreSQL text cannot hold NUL. Such a value used to reach the database, which refused the statement as a protocol
// violation (08P01) — answered 503 "database unavailable" with Retry-After, as if PostgreSQL were down.
describe('NUL characters in text inputs are a 400 naming the field', () => {
  const NUL = 'a\u0000b';
  const account = { name: 'Nul test', email: 'nul@example.com', host: '127.0.0.1', port: 1, username: 'u', password: 'p' };
  const webhook = { url: 'https://93.184.215.14/x', events: ['email.received'] };

  it.each([
    ['POST', '/api/accounts', { ...account, name: NUL }, 'name'],
    ['POST', '/api/accounts', { ...account, username: NUL }, 'username'],
    ['POST', '/api/accounts', { ...account, password: NUL }, 'password'],
    ['POST', '/api/accounts', { ...account, sync_folders: ['INBOX', NUL] }, 'sync_folders.1'],
    ['PUT', '/api/accounts/1', { name: NUL }, 'name'],
    ['PUT', '/api/accounts/1', { username: NUL }, 'username'],
    ['POST', '/api/accounts/1/sync', { folder: NUL }, 'folder'],
    ['POST', '/api/webhooks', { ...webhook, name: '\u0000' }, 'name'],
    ['POST', '/api/webhooks', { ...webhook, url: 'https://93.184.215.14/a\u0000b' }, 'url'],
    ['POST', '/api/webhooks', { ...webhook, secret: `${'s'.repeat(16)}\u0000` }, 'secret'],
    ['PUT', '/api/webhooks/1', { name: NUL }, 'name'],
  ])('%s %s %j', async (method, path, json, field) => {
    if (path.startsWith('/api/webhooks/1')) {
      const created = await srv.api('/api/webhooks', { method: 'POST', json: webhook });
      expect(created.status, created.text).toBe(201);
      path = `/api/webhooks/${created.body.data.id}`;
    }
    const r = await srv.api(path, { method, json });
    expect([r.status, r.body]).toEqual([400, { success: false, error: `${field}: must not contain NUL characters` }]);
    expect(r.headers.get('retry-after')).toBeNull();
  });

  it('GraphQL: in variables, nested inputs and escaped literals alike (BAD_USER_INPUT)', async () => {
    for (const [query, variables, field] of [
      ['mutation($n: String!) { createApiKey(input: {name: $n, permissions: ["read"]}) { secret } }', { n: NUL }, 'name'],
      ['mutation { createApiKey(input: {name: "a\\u0000b", permissions: ["read"]}) { secret } }', undefined, 'name'],
      ['mutation($i: UpdateAccountInput!) { updateAccount(id: "1", input: $i) { id } }', { i: { syncFolders: ['INBOX', NUL] } }, 'sync_folders.1'],
      ['query($q: String!) { searchEmails(q: $q) { rank } }', { q: `${NUL}cd` }, 'q'],
      ['query { emails(filter: {subject: "a\\u0000"}) { totalCount } }', undefined, 'subject'],
    ] as const) {
      const r = await srv.api('/graphql', { method: 'POST', json: { query, variables } });
      expect(r.body.errors?.[0], `${query} → ${r.text}`).toMatchObject({ message: `${field}: must not contain NUL characters`, extensions: { code: 'BAD_USER_INPUT' } });
    }
  });
});

describe('GraphQL requests that name no runnable operation are 400s, not 500s', () => {
  const get = (params: Record<string, string>) => srv.api(`/graphql?${new URLSearchParams(params)}`, { headers: { 'apollo-require-preflight': 'true' } });
  const post = (json: Record<string, unknown>) => srv.api('/graphql', { method: 'POST', json });
  const TWO = 'query A { viewer { id } } query B { viewer { id } }';

  it('several operations and no operationName, or an unknown one (POST and GET)', async () => {
    for (const [r, message] of [
      [await post({ query: TWO }), 'Must provide operation name if query contains multiple operations.'],
      [await post({ query: 'query A { viewer { id } }', operationName: 'Nope' }), 'Unknown operation named "Nope".'],
      [await get({ query: TWO }), 'Must provide operation name if query contains multiple operations.'],
      [await get({ query: TWO, operationName: 'Nope' }), 'Unknown operation named "Nope".'],
    ] as const) {
      expect([r.status, r.body.errors?.[0]?.message], r.text).toEqual([400, message]);
      expect(r.text).not.toContain('INTERNAL_SERVER_ERROR');
    }
    // Each document twice: the second run of a document is the one compiled with graphql-jit.
    for (let i = 0; i < 2; i++) expect((await post({ query: TWO, operationName: 'B' })).body).toEqual({ data: { viewer: { id: expect.any(String) } } });
  });

  it('a subscription over HTTP is refused, naming the WebSocket endpoint', async () => {
    for (const query of ['subscription { events { seq } }', 'subscription { syncProgress(accountId: "1") { accountId } }']) {
      for (let i = 0; i < 2; i++) {
        const r = await post({ query });
        expect(r.status, r.text).toBe(400);
        expect(r.body.errors).toEqual([{ message: expect.stringMatching(/WebSocket.*\/graphql.*graphql-ws/), extensions: { code: 'BAD_USER_INPUT' } }]);
      }
    }
  });
});
