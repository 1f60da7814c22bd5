/**
 * A webhook delivers mail on behalf of the API key that set it up. Once that key is revoked or deleted, loses `read`
 * or no longer sees the webhook's account, nothing more is sent: the webhook is disabled with the reason, and a key
 * that re-enables it becomes its owner. Creating or changing a webhook needs `read` as well as `write`, and a key may
 * own at most WEBHOOK_MAX_PER_KEY webhooks (each event goes to every webhook: thousands to one target are a flood).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initOrm, type Orm } from '../../src/db/orm.js';
import { appendEvents } from '../../src/events/index.js';
import { entities } from '../../src/modules/entities.js';
import { expectEventually } from '../support/eventually.js';
import { scopedKey } from '../support/mail-account.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type Credentials, type TestServer } from '../support/server.js';
import { sql } from '../support/sync.js';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

let db: TestDatabase;
let orm: Orm;
let rx: WebhookReceiver;
let srv: TestServer;
let accountId: number;
const MAX_PER_KEY = 3;

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await initOrm({ url: db.url, entities, poolMax: 2 });
  rx = await startReceiver();
  srv = await startTestServer(db.url, {
    SYNC_ENABLED: 'false', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_RETRY_DELAYS: '1,1,1', WEBHOOK_TIMEOUT_MS: '2000',
    WEBHOOK_POLL_INTERVAL_MS: '500', WEBHOOK_MAX_PER_KEY: String(MAX_PER_KEY), RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000',
  });
  const account = await srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'Owner test', email: 'owner@example.com', host: '127.0.0.1', port: 1, username: 'u', password: 'p', encryption: 'none' },
  });
  expect(account.status, account.text).toBe(201);
  accountId = account.body.data.id;
}, 60_000);
afterEach(async () => {
  await sql(db.url, 'DELETE FROM webhooks');
  rx.received.length = 0;
});
afterAll(async () => {
  await srv?.close();
  await rx?.close();
  await orm?.close();
  await db?.drop();
});

let n = 0;
/** A real outbox event of the account (what a sync or PATCH appends). */
async function event(): Promise<string> {
  await appendEvents(orm.em.fork(), [{ type: 'email.categorized', accountId, identity: `owner-${++n}`, payload: { emailId: n, accountId } }]);
  return (await sql<{ id: string }>(db.url, 'SELECT id FROM events ORDER BY seq DESC LIMIT 1'))[0]!.id;
}

async function createHook(auth: Credentials, json: Record<string, unknown> = {}) {
  const r = await srv.api('/api/webhooks', { method: 'POST', auth, json: { url: rx.url, events: ['email.categorized'], account_id: accountId, ...json } });
  expect(r.status, r.text).toBe(201);
  rx.secret = r.body.data.secret;
  return r.body.data.id as number;
}

const hook = async (id: number) => (await srv.api('/api/webhooks')).body.data.webhooks.find((w: { id: number }) => w.id === id);
const log = async (id: number) => (await srv.api(`/api/webhooks/${id}/deliveries`)).body.data as Array<Record<string, unknown>>;

async function deliveredOnce(id: number): Promise<void> {
  const eventId = await event();
  await expectEventually(() => expect(rx.received.map((r) => r.json?.id)).toContain(eventId), { timeoutMs: 15_000 });
  expect((await hook(id)).is_active).toBe(true);
}

/** The next event is not sent; the webhook ends disabled saying why, and the delivery failed with that reason. */
async function stoppedWith(id: number, reason: RegExp): Promise<void> {
  const before = rx.received.length;
  const eventId = await event();
  await expectEventually(async () => {
    expect(await log(id)).toContainEqual(expect.objectContaining({ event_id: eventId, status: 'failed', http_code: null, error: expect.stringMatching(reason) }));
  }, { timeoutMs: 15_000 });
  expect(await hook(id)).toMatchObject({ is_active: false, disabled_reason: expect.stringMatching(reason) });
  expect(rx.received).toHaveLength(before);
}

describe('webhooks and the API key that set them up', () => {
  it('a revoked key’s webhook stops delivering and is disabled saying why; re-enabled by another key, it delivers again', async () => {
    const key = await scopedKey(srv, ['read', 'write'], [accountId]);
    const id = await createHook(key);
    await deliveredOnce(id);

    const keyId = (await sql<{ id: number }>(db.url, 'SELECT id FROM api_keys WHERE public_key = $1', [key.key]))[0]!.id;
    const revoked = await srv.api('/graphql', { method: 'POST', json: { query: `mutation { revokeApiKey(id: "${keyId}") { id } }` } });
    expect(revoked.status, revoked.text).toBe(200);
    await stoppedWith(id, new RegExp(`API key that set it up \\(id ${keyId}\\) was revoked`));

    // The admin key re-enables it and so becomes its owner: deliveries resume.
    const enabled = await srv.api(`/api/webhooks/${id}`, { method: 'PUT', json: { is_active: true } });
    expect(enabled.status, enabled.text).toBe(200);
    expect(enabled.body.data).toMatchObject({ is_active: true, disabled_reason: null });
    await deliveredOnce(id);
  }, 60_000);

  it('a deleted key, a key that lost read, and a key no longer scoped to the account stop their webhooks', async () => {
    const cases: Array<[string, RegExp]> = [
      ['DELETE FROM api_keys WHERE id = $1', /was deleted/],
      [`UPDATE api_keys SET permissions = '{write}' WHERE id = $1`, /no longer has the read permission/],
      [`UPDATE api_keys SET account_ids = '[999999]' WHERE id = $1`, new RegExp(`no longer sees account ${accountId}`)],
    ];
    for (const [change, reason] of cases) {
      const key = await scopedKey(srv, ['read', 'write'], [accountId]);
      const id = await createHook(key);
      await deliveredOnce(id);
      await sql(db.url, change, [(await sql<{ id: number }>(db.url, 'SELECT id FROM api_keys WHERE public_key = $1', [key.key]))[0]!.id]);
      await stoppedWith(id, reason);
    }
  }, 90_000);

  it('an account-wide webhook stops once its key is limited to some accounts', async () => {
    const created = await srv.api('/graphql', {
      method: 'POST',
      json: { query: 'mutation { createApiKey(input: {name: "everything", permissions: ["read", "write"]}) { secret key { id publicKey } } }' },
    });
    const { secret, key } = created.body.data.createApiKey;
    const id = await createHook({ key: key.publicKey, secret }, { account_id: undefined });
    await deliveredOnce(id);
    await sql(db.url, `UPDATE api_keys SET account_ids = $2 WHERE id = $1`, [key.id, JSON.stringify([accountId])]);
    await stoppedWith(id, /limited to specific accounts/);
  }, 60_000);

  it('a key without read may not create or change a webhook (it would receive mail it cannot read)', async () => {
    const writer = await scopedKey(srv, ['write'], [accountId]);
    const created = await srv.api('/api/webhooks', { method: 'POST', auth: writer, json: { url: rx.url, events: ['email.categorized'], account_id: accountId } });
    expect(created.status, created.text).toBe(403);
    expect(created.body).toEqual({ success: false, error: expect.stringContaining('read') });
    const id = await createHook({ key: srv.key, secret: srv.secret });
    const changed = await srv.api(`/api/webhooks/${id}`, { method: 'PUT', auth: writer, json: { url: `${rx.url}/other` } });
    expect(changed.status, changed.text).toBe(403);
  }, 30_000);

  it('a key may own at most WEBHOOK_MAX_PER_KEY webhooks, also when it creates them all at once; other keys are not affected', async () => {
    const key = await scopedKey(srv, ['read', 'write'], [accountId]);
    const body = { url: rx.url, events: ['email.categorized'], account_id: accountId };
    const rs = await Promise.all(Array.from({ length: 8 }, () => srv.api('/api/webhooks', { method: 'POST', auth: key, json: body })));
    expect(rs.filter((r) => r.status === 201)).toHaveLength(MAX_PER_KEY);
    const refused = rs.filter((r) => r.status !== 201);
    expect(refused.map((r) => r.status)).toEqual(Array(8 - MAX_PER_KEY).fill(409));
    expect(refused[0]!.body).toEqual({ success: false, error: expect.stringContaining(`at most ${MAX_PER_KEY}`) });
    expect((await srv.api('/api/webhooks', { method: 'POST', json: body })).status).toBe(201); // the admin key has its own
    // Deleting one makes room.
    await srv.api(`/api/webhooks/${rs.find((r) => r.status === 201)!.body.data.id}`, { method: 'DELETE', auth: key });
    expect((await srv.api('/api/webhooks', { method: 'POST', auth: key, json: body })).status).toBe(201);
  }, 30_000);
});
