/** GraphQL subscriptions over the durable event stream, with real graphql-ws clients, Dovecot and PostgreSQL. */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { initOrm, type Orm } from '../../src/db/orm.js';
import { entities } from '../../src/modules/entities.js';
import { appendEvents, type NewEvent } from '../../src/events/index.js';
import { KEY_CACHE_TTL_MS } from '../../src/modules/auth/index.js';
import { createDovecotUser } from '../support/dovecot.js';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage, createFolder } from '../support/imap.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type Credentials, type TestServer } from '../support/server.js';
import { sql } from '../support/sync.js';
import { collect, connectWs, type Collected } from '../support/ws.js';

const dovecot = inject('dovecot');
const ENV = { SYNC_ENABLED: 'false', INCOMING_SECRET_KEY: 'cd'.repeat(32) };
let db: TestDatabase;
let srv: TestServer;
let orm: Orm;
let accountA: number;
let accountB: number;
let mailbox: { user: string; password: string };
const clients: Client[] = [];

async function connect(creds: Credentials = srv, server: TestServer = srv): Promise<Client> {
  const { client, outcome } = await connectWs(server.url, creds);
  expect(outcome).toBe('connected');
  clients.push(client);
  return client;
}

/** Subscribes and waits until the server has registered the subscription with its event stream. */
async function live(client: Client, query: string, variables: Record<string, unknown> = {}, server: TestServer = srv): Promise<Collected> {
  const before = server.server.events.size;
  const sub = collect(client, query, variables);
  await expectEventually(() => expect(server.server.events.size).toBeGreaterThan(before));
  return sub;
}

async function createKey(permissions: string[], accountIds?: number[]): Promise<Credentials & { id: string }> {
  const scope = accountIds ? `, accountIds: [${accountIds.join(',')}]` : '';
  const r = await srv.api('/graphql', {
    method: 'POST',
    json: { query: `mutation { createApiKey(input: {name: "k", permissions: ${JSON.stringify(permissions)}${scope}}) { secret key { id publicKey } } }` },
  });
  return { id: r.body.data.createApiKey.key.id, key: r.body.data.createApiKey.key.publicKey, secret: r.body.data.createApiKey.secret };
}

/** Resolves with the close code and reason once the server closes the client's socket (rejects after `ms`). */
function closing(client: Client, ms = 15_000): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server left the socket open for ${ms} ms`)), ms);
    client.on('closed', (e) => {
      clearTimeout(timer);
      resolve(e as { code: number; reason: string });
    });
  });
}

async function revoke(id: string, server: TestServer = srv): Promise<void> {
  const r = await server.api('/graphql', { method: 'POST', json: { query: `mutation { revokeApiKey(id: "${id}") { id } }` } });
  expect(r.body.errors, r.text).toBeUndefined();
}

function categorized(accountId: number | null, identity: string): NewEvent<'email.categorized'> {
  return { type: 'email.categorized', accountId, identity, payload: { emailId: 7, accountId, categories: ['work'], identity } };
}

async function syncNow(id: number) {
  const r = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: {} });
  expect(r.status, r.text).toBe(200);
}

async function anEmail(accountId: number): Promise<number> {
  const [row] = await sql<{ id: number }>(db.url, 'SELECT id FROM emails WHERE account_id = $1 ORDER BY id LIMIT 1', [accountId]);
  return row!.id;
}

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, ENV);
  orm = await initOrm({ url: db.url, entities, poolMax: 2 });
  mailbox = await createDovecotUser(dovecot.dir);
  await createFolder(dovecot, mailbox, 'Archive');
  const create = async (user: string, password: string) => {
    const r = await srv.api('/api/accounts', {
      method: 'POST',
      json: { name: user, email: `${user}@example.com`, host: dovecot.host, port: dovecot.port, username: user, password, encryption: 'none', sync_folders: ['INBOX', 'Archive'] },
    });
    expect(r.status, r.text).toBe(201);
    return r.body.data.id as number;
  };
  accountA = await create(mailbox.user, mailbox.password);
  accountB = await create('nobody', 'not-a-password');
  await appendMessage(dovecot, mailbox, 'INBOX', buildMessage({ subject: 'Seed' }));
  await syncNow(accountA);
});
afterAll(async () => {
  for (const c of clients) await c.dispose();
  await orm?.close();
  await srv?.close();
  await db?.drop();
});

describe('live subscriptions', () => {
  it('emailReceived fires for newly synced mail, filtered by account and folder; syncStatus reports the pass', async () => {
    const client = await connect();
    const inbox = await live(
      client,
      'subscription($a: ID) { emailReceived(accountId: $a, folder: "INBOX") { eventId seq accountId emailId folder subject fromAddress fromName receivedAt hasAttachments } }',
      { a: String(accountA) },
    );
    const any = await live(client, 'subscription { emailReceived { subject folder } }');
    // INBOX is case-insensitive (RFC 3501), as in the other folder filters.
    const lowerInbox = await live(client, 'subscription { emailReceived(folder: "inbox") { subject folder } }');
    const other = await live(client, 'subscription($a: ID) { emailReceived(accountId: $a) { subject } }', { a: String(accountB) });
    const status = await live(client, 'subscription($a: ID) { syncStatus(accountId: $a) { status runId new failed folders accountId } }', { a: String(accountA) });
    await appendMessage(dovecot, mailbox, 'INBOX', buildMessage({ subject: 'Fresh in inbox', from: 'Ann Example <ann@example.com>' }));
    await appendMessage(dovecot, mailbox, 'Archive', buildMessage({ subject: 'Fresh in archive' }));
    await syncNow(accountA);
    await expectEventually(() => {
      expect(inbox.items).toMatchObject([
        { accountId: String(accountA), folder: 'INBOX', subject: 'Fresh in inbox', fromAddress: 'ann@example.com', fromName: 'Ann Example', hasAttachments: false },
      ]);
      expect(inbox.items[0].eventId).toMatch(/^[0-9a-f]{64}$/);
      expect(Number(inbox.items[0].emailId)).toBeGreaterThan(0);
      expect(any.items).toEqual(expect.arrayContaining([{ subject: 'Fresh in inbox', folder: 'INBOX' }, { subject: 'Fresh in archive', folder: 'Archive' }]));
      expect(status.items).toMatchObject([{ status: 'completed', new: 2, failed: 0, accountId: String(accountA) }]);
    });
    expect(any.items).toHaveLength(2);
    expect(lowerInbox.items).toEqual([{ subject: 'Fresh in inbox', folder: 'INBOX' }]);
    expect(other.items).toEqual([]);
    expect(inbox.errors).toEqual([]);
  });

  it('emailUpdated fires after PATCH /api/emails/{id}', async () => {
    const client = await connect();
    const updated = await live(client, 'subscription($a: ID) { emailUpdated(accountId: $a) { emailId accountId folder changes } }', { a: String(accountA) });
    const id = await anEmail(accountA);
    const r = await srv.api(`/api/emails/${id}`, { method: 'PATCH', json: { is_starred: true } });
    expect(r.status, r.text).toBe(200);
    await expectEventually(() => expect(updated.items).toMatchObject([{ emailId: String(id), accountId: String(accountA), folder: 'INBOX', changes: { isStarred: true } }]));
  });

  it('emailCategorized and voicemailReceived deliver appended events with their payload', async () => {
    const client = await connect();
    const cat = await live(client, 'subscription($a: ID) { emailCategorized(accountId: $a) { eventId accountId emailId payload } }', { a: String(accountA) });
    const vm = await live(client, 'subscription { voicemailReceived { accountId emailId payload } }');
    await appendEvents(orm.em.fork(), [
      categorized(accountA, 'cat-1'),
      { type: 'voicemail.received', accountId: accountA, identity: 'vm-1', payload: { emailId: 8, callerNumber: '+33100000000', durationSeconds: 12 } },
    ]);
    await expectEventually(() => {
      expect(cat.items).toMatchObject([{ accountId: String(accountA), emailId: '7', payload: { categories: ['work'] } }]);
      expect(vm.items).toMatchObject([{ accountId: String(accountA), emailId: '8', payload: { callerNumber: '+33100000000', durationSeconds: 12 } }]);
    });
  });

  it('a live subscription gets no event committed before it started, although the stream had not read it yet', async () => {
    // Stored without a NOTIFY: the stream reads it at its next poll, after the subscription below started.
    await sql(db.url, `INSERT INTO events (id, type, account_id, payload, created_at) VALUES ($1, 'email.categorized', $2, '{"identity": "before"}', now())`, [
      'b'.repeat(64),
      accountA,
    ]);
    const client = await connect();
    const sub = await live(client, 'subscription($a: ID) { events(accountId: $a, types: ["email.categorized"]) { payload } }', { a: String(accountA) });
    await new Promise((r) => setTimeout(r, 2500)); // past the stream's 2 s safety poll
    await appendEvents(orm.em.fork(), [categorized(accountA, 'after')]);
    await expectEventually(() => expect(sub.items.length).toBeGreaterThan(0));
    expect(sub.items.map((e) => e.payload.identity)).toEqual(['after']);
  });

  it('a key scoped to another account receives none of this account’s events; a key without read is refused', async () => {
    const scoped = await createKey(['read'], [accountB]);
    const admin = await connect();
    const scopedClient = await connect(scoped);
    const all = await live(admin, 'subscription { events { type accountId payload } }');
    const mine = await live(scopedClient, 'subscription { events { type accountId payload } }');
    const updates = await live(scopedClient, 'subscription { emailUpdated { emailId } }');
    const refused = collect(scopedClient, 'subscription($a: ID) { emailReceived(accountId: $a) { subject } }', { a: String(accountA) });
    await refused.ended;
    expect(refused.errors).toMatchObject([{ extensions: { code: 'NOT_FOUND' } }]);

    const id = await anEmail(accountA);
    expect((await srv.api(`/api/emails/${id}`, { method: 'PATCH', json: { is_starred: false } })).status).toBe(200);
    await appendEvents(orm.em.fork(), [categorized(null, 'no-account'), categorized(accountA, 'scope-a')]);
    await appendEvents(orm.em.fork(), [categorized(accountB, 'scope-b')]);
    // B's event comes last on the same subscription: once it arrived, everything before it was filtered, not pending.
    await expectEventually(() => expect(mine.items.map((e) => e.payload.identity)).toContain('scope-b'));
    expect(mine.items).toMatchObject([{ type: 'email.categorized', accountId: String(accountB), payload: { identity: 'scope-b' } }]);
    expect(updates.items).toEqual([]);
    await expectEventually(() => expect(all.items.map((e) => e.type)).toEqual(['email.updated', 'email.categorized', 'email.categorized', 'email.categorized']));
    expect(all.items[1]).toMatchObject({ accountId: null, payload: { identity: 'no-account' } });

    const sender = await createKey(['send']);
    expect((await connectWs(srv.url, sender)).outcome).toBe(4403);
  });
});

describe('events(after): replay then live', () => {
  const query = 'subscription($a: ID, $after: String, $types: [String!]) { events(accountId: $a, after: $after, types: $types) { seq id type accountId payload createdAt } }';

  it('a client reconnecting with its last id gets what it missed, in order, then live events, with no gap or duplicate', async () => {
    const first = await connect();
    const before = await live(first, query, { a: String(accountA) });
    await appendEvents(orm.em.fork(), [categorized(accountA, 'r-1'), categorized(accountA, 'r-2')]);
    await expectEventually(() => expect(before.items).toHaveLength(2));
    const last = before.items[1];
    await first.dispose();

    // Missed while disconnected, and more written while the next client replays.
    for (let i = 3; i <= 6; i++) await appendEvents(orm.em.fork(), [categorized(accountA, `r-${i}`)]);
    let writing = true;
    const writer = (async () => {
      for (let i = 7; writing || i < 27; i++) {
        await appendEvents(orm.em.fork(), [categorized(accountA, `r-${i}`), categorized(accountB, `rb-${i}`)]);
        await new Promise((r) => setTimeout(r, 5));
        if (i > 200) break;
      }
    })();
    const again = collect(await connect(), query, { a: String(accountA), after: last.id });
    await expectEventually(() => expect(again.items.length).toBeGreaterThan(5));
    writing = false;
    await writer;
    const stored = await sql<{ id: string; seq: string }>(db.url, 'SELECT id, seq::text FROM events WHERE account_id = $1 AND seq > $2 ORDER BY seq', [accountA, last.seq]);
    expect(stored.length).toBeGreaterThanOrEqual(24);
    await expectEventually(() => expect(again.items.map((e) => e.id)).toEqual(stored.map((r) => r.id)));
    expect(again.items[0].payload.identity).toBe('r-3');
    expect(again.errors).toEqual([]);

    // `after` also takes a seq, combined with a type filter.
    const bySeq = collect(await connect(), query, { a: String(accountA), after: before.items[0].seq, types: ['email.categorized'] });
    await expectEventually(() => expect(bySeq.items.map((e) => e.id)).toEqual([last.id, ...stored.map((r) => r.id)]));
  });

  it('refuses an unknown event id and unknown types', async () => {
    const client = await connect();
    const unknown = collect(client, query, { after: 'f'.repeat(64) });
    const badTypes = collect(client, query, { types: ['email.nope'] });
    // 19 digits, past the largest bigint seq: bad input, not an internal error from the cast.
    const hugeSeq = collect(client, query, { after: '9999999999999999999' });
    await Promise.all([unknown.ended, badTypes.ended, hugeSeq.ended]);
    expect(hugeSeq.errors).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('out of range') }]);
    expect(unknown.errors).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT' } }]);
    expect(String((unknown.errors[0] as { message: string }).message)).toContain('unknown event id');
    expect(badTypes.errors).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT' } }]);
  });

  it('a seq no event ever had (a cursor kept across a database restore) is refused, not a silent wait until seqs catch up', async () => {
    const [{ next } = { next: '' }] = await sql<{ next: string }>(db.url, `SELECT (pg_sequence_last_value(pg_get_serial_sequence('events', 'seq'))::bigint + 1000)::text AS next`);
    const ahead = collect(await connect(), query, { a: String(accountA), after: next });
    await appendEvents(orm.em.fork(), [categorized(accountA, 'past-a-restore')]);
    await Promise.race([ahead.ended, new Promise((r) => setTimeout(r, 3000))]);
    expect(ahead.errors).toMatchObject([{ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('newer than') }]);
  });
});

describe('two instances on one database', () => {
  it('an event produced through instance A reaches a subscriber on instance B, and the other way round', async () => {
    const other = await startTestServer(db.url, ENV);
    const clientB = await connect(srv, other);
    try {
      const onB = await live(clientB, 'subscription($a: ID) { emailUpdated(accountId: $a) { emailId changes } }', { a: String(accountA) }, other);
      const onA = await live(await connect(), 'subscription($a: ID) { emailUpdated(accountId: $a) { emailId changes } }', { a: String(accountA) });
      const id = await anEmail(accountA);
      expect((await srv.api(`/api/emails/${id}`, { method: 'PATCH', json: { is_read: true } })).status).toBe(200);
      await expectEventually(() => expect(onB.items).toMatchObject([{ emailId: String(id), changes: { isRead: true } }]));
      expect((await other.api(`/api/emails/${id}`, { method: 'PATCH', json: { is_read: false } })).status).toBe(200);
      await expectEventually(() => expect(onA.items).toMatchObject([{ changes: { isRead: true } }, { changes: { isRead: false } }]));
      await expectEventually(() => expect(onB.items).toHaveLength(2));
      // A client that goes away releases its subscriptions on the server.
      await clientB.dispose();
      await expectEventually(() => expect(other.server.events.size).toBe(0));
    } finally {
      await clientB.dispose();
      await other.close();
    }
  });
});

describe('API key changes reach open sockets', () => {
  const UPDATED = 'subscription($a: ID) { emailUpdated(accountId: $a) { emailId changes } }';

  it('revoking a key closes its sockets with 4401 and ends their subscriptions; it cannot reconnect; other keys keep working', async () => {
    const [doomed, kept] = [await createKey(['read']), await createKey(['read'])];
    const client = await connect(doomed);
    const closed = closing(client);
    const sub = await live(client, UPDATED, { a: String(accountA) });
    const keptSub = await live(await connect(kept), UPDATED, { a: String(accountA) });
    await revoke(doomed.id);
    expect(await closed).toMatchObject({ code: 4401, reason: expect.stringContaining('revoked') });
    await sub.ended;
    const id = await anEmail(accountA);
    expect((await srv.api(`/api/emails/${id}`, { method: 'PATCH', json: { is_starred: true } })).status).toBe(200);
    await expectEventually(() => expect(keptSub.items).toMatchObject([{ emailId: String(id), changes: { isStarred: true } }]));
    expect(sub.items).toEqual([]);
    expect((await connectWs(srv.url, doomed)).outcome).toBe(4401);
    const viewer = collect(await connect(kept), '{ viewer { permissions } }');
    await viewer.ended;
    expect(viewer.items).toEqual([{ permissions: ['read'] }]);
  });

  it('a revocation through another instance closes this one’s sockets at once (NOTIFY), not after the key cache expires', async () => {
    const other = await startTestServer(db.url, ENV);
    try {
      const key = await createKey(['read']);
      const client = await connect(key, other);
      const closed = closing(client);
      await live(client, UPDATED, {}, other);
      const start = Date.now();
      await revoke(key.id);
      expect((await closed).code).toBe(4401);
      expect(Date.now() - start).toBeLessThan(2000);
      expect((await connectWs(other.url, key)).outcome).toBe(4401);
    } finally {
      await other.close();
    }
  });

  it('a key whose permissions another process changed and announced closes with 4403, so the client reconnects with the new rights', async () => {
    const key = await createKey(['read']);
    const client = await connect(key);
    const closed = closing(client);
    await live(client, UPDATED);
    // What any process that changes a key does (the server, the CLI): the change and its NOTIFY.
    await sql(db.url, "UPDATE api_keys SET permissions = '{read,write}' WHERE id = $1", [key.id]);
    await sql(db.url, "SELECT pg_notify('incoming_api_keys', $1)", [key.id]);
    expect(await closed).toMatchObject({ code: 4403, reason: expect.stringContaining('permissions changed') });
    const viewer = collect(await connect(key), '{ viewer { permissions } }');
    await viewer.ended;
    expect(viewer.items).toEqual([{ permissions: ['read', 'write'] }]);
  });

  it('a revocation whose notification was lost still closes the socket once the cached key expires (periodic re-check)', { timeout: 30_000 }, async () => {
    const key = await createKey(['read']);
    const client = await connect(key);
    const closed = closing(client);
    await live(client, UPDATED);
    await sql(db.url, 'UPDATE api_keys SET revoked_at = now() WHERE id = $1', [key.id]);
    const start = Date.now();
    expect((await closed).code).toBe(4401);
    expect(Date.now() - start).toBeLessThan(2 * KEY_CACHE_TTL_MS + 1000);
  });
});
