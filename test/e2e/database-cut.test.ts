/**
 * The database cut off under requests in flight: open connections reset with no FATAL message first (a network cut,
 * a failover, a crashed server) and new ones refused for a while, through a proxy between the server and PostgreSQL.
 * A request whose statement was cut answers 503 with Retry-After (it was a 500: a `read ECONNRESET` names no address,
 * and was not recognised as the database's). A write made with an `Idempotency-Key` whose answer (here: the key's
 * release after that 503) could not be recorded while the database was away used to keep its key claimed: a client
 * retrying as told got 409 "still being processed" for the 10 minutes after which a claim counts as abandoned.
 * Webhook deliveries in flight when the database goes: each event is delivered after all (at least once, a repeat
 * with the same webhook-id), none lost.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initOrm, type Orm } from '../../src/db/orm.js';
import { appendEvents } from '../../src/events/index.js';
import { entities } from '../../src/modules/entities.js';
import { expectEventually } from '../support/eventually.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type ApiResponse, type TestServer } from '../support/server.js';
import { sql, waitForLockWait } from '../support/sync.js';
import { startProxy, type SilenceableProxy } from '../support/tcp-proxy.js';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

let db: TestDatabase;
let proxy: SilenceableProxy;
let srv: TestServer;
let orm: Orm;
let rx: WebhookReceiver;

beforeAll(async () => {
  db = await createTestDatabase();
  const direct = new URL(db.url);
  proxy = await startProxy({ host: direct.hostname, port: Number(direct.port) });
  const viaProxy = new URL(db.url);
  viaProxy.host = `${proxy.host}:${proxy.port}`;
  srv = await startTestServer(viaProxy.toString(), {
    SYNC_ENABLED: 'false', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_TIMEOUT_MS: '2000', WEBHOOK_RETRY_DELAYS: '1,1,1,1,1', WEBHOOK_POLL_INTERVAL_MS: '1000',
  });
  orm = await initOrm({ url: db.url, entities, poolMax: 2 });
  rx = await startReceiver();
}, 60_000);
afterAll(async () => {
  proxy?.restore();
  await srv?.close();
  await proxy?.close();
  await rx?.close();
  await orm?.close();
  await db?.drop();
});

async function createAccount(name: string): Promise<number> {
  const created = await srv.api('/api/accounts', { method: 'POST', json: { name, email: `${name}@example.com`, host: '127.0.0.1', port: 143, username: name, password: 'p', encryption: 'none' } });
  expect(created.status, created.text).toBe(201);
  return created.body.data.id as number;
}

/**
 * Runs `request` while it waits for the account's row lock (held here, on a direct connection), then cuts the
 * database off under it; restores it after `downMs` and waits until the server is ready again. Returns the answer.
 */
async function cutUnder(accountId: number, request: () => Promise<ApiResponse>, downMs = 500): Promise<ApiResponse> {
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [accountId]);
  const answer = request();
  try {
    await waitForLockWait(db.url, 'the request');
    proxy.cut();
    return await answer;
  } finally {
    await holder.end();
    await new Promise((r) => setTimeout(r, downMs));
    proxy.restore();
    await expectEventually(async () => expect((await srv.api('/readyz', { auth: false })).status).toBe(200), { timeoutMs: 20_000, intervalMs: 200 });
  }
}

it('a statement cut off mid-request is a 503 with Retry-After, not a 500', async () => {
  const id = await createAccount('cut');
  const r = await cutUnder(id, () => srv.api(`/api/accounts/${id}`, { method: 'PUT', json: { name: 'renamed' } }));
  expect(r.status, r.text).toBe(503);
  expect(r.headers.get('retry-after')).toBe('5');
  expect(r.body.success).toBe(false);
});

it('a write with an Idempotency-Key cut off by the outage can be retried with its key once the database is back', async () => {
  const id = await createAccount('idem');
  const put = () => srv.api(`/api/accounts/${id}`, { method: 'PUT', json: { name: 'After' }, headers: { 'idempotency-key': 'rename-1' } });
  expect((await cutUnder(id, put)).status).toBe(503);
  // The client retries as told, with the same key: the update runs within a few retries (not 10 minutes later).
  await expectEventually(async () => {
    const again = await put();
    expect(again.status, again.text).toBe(200);
    expect(again.body.data.name).toBe('After');
  }, { timeoutMs: 15_000, intervalMs: 1000 });
  expect((await sql<{ name: string }>(db.url, 'SELECT name FROM accounts WHERE id = $1', [id]))[0]!.name).toBe('After');
  expect((await put()).headers.get('idempotent-replayed')).toBe('true');
}, 60_000);

it('webhook deliveries in flight when the database is cut off: every event delivered, repeats only with the same webhook-id', async () => {
  const hook = await srv.api('/api/webhooks', { method: 'POST', json: { url: rx.url, events: ['email.categorized'] } });
  expect(hook.status, hook.text).toBe(201);
  rx.secret = hook.body.data.secret;
  const webhookId = hook.body.data.id as number;
  rx.behave('hold');
  const events = Array.from({ length: 20 }, (_, i) => ({ type: 'email.categorized' as const, accountId: null, identity: `cut-${i}`, payload: { emailId: i } }));
  await appendEvents(orm.em.fork(), events);
  await expectEventually(() => expect(rx.received.length).toBeGreaterThanOrEqual(3), { timeoutMs: 15_000, intervalMs: 50 });
  // The receivers answer while the database is away: the attempts cannot be recorded.
  proxy.cut();
  rx.behave({ status: 200 });
  rx.release();
  await new Promise((r) => setTimeout(r, 1000));
  proxy.restore();
  const ids = (await sql<{ id: string }>(db.url, "SELECT id FROM events WHERE type = 'email.categorized' ORDER BY seq")).map((e) => `msg_${webhookId}_${e.id}`);
  expect(ids).toHaveLength(20);
  await expectEventually(async () => {
    const rows = await sql<{ status: string }>(db.url, 'SELECT status FROM webhook_deliveries WHERE webhook_id = $1', [webhookId]);
    expect(rows.map((r) => r.status)).toEqual(Array(20).fill('delivered'));
  }, { timeoutMs: 60_000, intervalMs: 500 });
  expect(rx.received.every((r) => r.verified)).toBe(true);
  // The attempts answered while the database was away were not recorded: they were sent again, with the same id.
  expect(rx.received.length).toBeGreaterThan(20);
  expect(new Set(rx.received.map((r) => r.headers['webhook-id']))).toEqual(new Set(ids));
}, 90_000);
