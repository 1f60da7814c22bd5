/**
 * Webhooks end to end: CRUD shapes and 400s, SSRF refusals, the synchronous test delivery, and signed deliveries of
 * real events (a sync's email.received, a PATCH's email.updated) to a real receiver that verifies every signature with
 * the `standardwebhooks` package — with retries (stable webhook-id), downtime, auto-disable and redelivery.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type DovecotServer } from '../support/dovecot.js';
import { expectEventually } from '../support/eventually.js';
import { buildMessage, appendMessage } from '../support/imap.js';
import { scopedKey, syncedAccount } from '../support/mail-account.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sql } from '../support/sync.js';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { collect, connectWs } from '../support/ws.js';

let dovecot: DovecotServer;
let db: TestDatabase;
let srv: TestServer;
let rx: WebhookReceiver;
let account: { accountId: number; ids: Map<string, number> };

const MAX_FAILURES = 4;

beforeAll(async () => {
  dovecot = await startDovecot();
  db = await createTestDatabase();
  srv = await startTestServer(db.url, {
    SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_LEASE_TTL_MS: '3000',
    RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    WEBHOOK_RETRY_DELAYS: '1,1,1,1,1,1',
    WEBHOOK_MAX_CONSECUTIVE_FAILURES: String(MAX_FAILURES),
    WEBHOOK_TIMEOUT_MS: '3000',
    WEBHOOK_POLL_INTERVAL_MS: '1000',
  });
  rx = await startReceiver();
  account = await syncedAccount({ dovecot, srv, dbUrl: db.url }, ['alpha', 'beta']);
}, 90_000);
afterEach(async () => {
  await sql(db.url, 'DELETE FROM webhooks');
  rx.received.length = 0;
  rx.behave({ status: 200, body: 'OK' });
});
afterAll(async () => {
  await rx?.close();
  await srv?.close();
  await dovecot?.stop();
  await db?.drop();
});

async function createHook(json: Record<string, unknown> = {}) {
  const r = await srv.api('/api/webhooks', { method: 'POST', json: { url: rx.url, events: ['email.updated'], account_id: account.accountId, ...json } });
  expect(r.status, r.text).toBe(201);
  rx.secret = r.body.data.secret;
  return r.body.data as { id: number; secret: string };
}

let toggle = false;
/** A real email.updated: PATCH flips is_read of "alpha". */
async function emailUpdated() {
  toggle = !toggle;
  const r = await srv.api(`/api/emails/${account.ids.get('alpha')}`, { method: 'PATCH', json: { is_read: toggle } });
  expect(r.status, r.text).toBe(200);
}

const deliveries = async (id: number) => (await srv.api(`/api/webhooks/${id}/deliveries`)).body;
const hook = async (id: number) => (await srv.api('/api/webhooks')).body.data.webhooks.find((w: { id: number }) => w.id === id);

describe('webhook CRUD', () => {
  it('lists with supported_events, creates with a generated whsec_ secret shown once, updates and deletes', async () => {
    const empty = await srv.api('/api/webhooks');
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({
      success: true,
      data: { webhooks: [], supported_events: expect.arrayContaining(['email.received', 'email.categorized', 'voicemail.received', 'sync.completed', 'sync.failed', 'email.updated', 'email.deleted']) },
    });
    const created = await srv.api('/api/webhooks', { method: 'POST', json: { url: rx.url, events: ['email.received', 'voicemail.received'] } });
    expect(created.status, created.text).toBe(201);
    expect(created.body.data).toMatchObject({
      url: rx.url, events: ['email.received', 'voicemail.received'], is_active: true, trigger_count: 0,
      last_triggered_at: null, last_success_at: null, last_failure_at: null, consecutive_failures: 0, account_id: null,
    });
    expect(created.body.data.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const id = created.body.data.id;
    const listed = await srv.api('/api/webhooks');
    expect(listed.body.data.webhooks).toHaveLength(1);
    expect(listed.body.data.webhooks[0]).not.toHaveProperty('secret');
    expect(listed.body.data.webhooks[0]).not.toHaveProperty('secret_sealed');

    const put = await srv.api(`/api/webhooks/${id}`, { method: 'PUT', json: { events: ['sync.completed'], is_active: false, name: 'Ops' } });
    expect(put.status, put.text).toBe(200);
    expect(put.body.data).toMatchObject({ id, name: 'Ops', events: ['sync.completed'], is_active: false });
    expect(put.body.data).not.toHaveProperty('secret');

    const own = await srv.api('/api/webhooks', { method: 'POST', json: { url: rx.url, events: ['sync.failed'], secret: 'my-own-secret-1234567' } });
    expect(own.body.data.secret).toBe('my-own-secret-1234567');

    const del = await srv.api(`/api/webhooks/${id}`, { method: 'DELETE' });
    expect(del.body).toEqual({ success: true, message: 'Webhook deleted' });
    expect((await srv.api(`/api/webhooks/${id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await srv.api(`/api/webhooks/${id}/deliveries`)).status).toBe(404);
  });

  it('a create retried with its Idempotency-Key gets the secret again, which is not stored in clear meanwhile', async () => {
    const headers = { 'idempotency-key': 'create-hook-once' };
    const json = { url: rx.url, events: ['email.received'] };
    const first = await srv.api('/api/webhooks', { method: 'POST', json, headers });
    expect(first.status, first.text).toBe(201);
    const secret = first.body.data.secret as string;
    const replay = await srv.api('/api/webhooks', { method: 'POST', json, headers });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    // The stored answer (kept 24 h for retries) is sealed like the webhook's own copy of the secret.
    const rows = await sql<{ body: string }>(db.url, "SELECT body FROM idempotency_keys WHERE key = 'create-hook-once'");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.body).not.toContain(secret);
    expect(rows[0]!.body).not.toContain(secret.slice('whsec_'.length, 20));
  });

  it('concurrent deletes of one webhook (REST and GraphQL): exactly one succeeds, the others are 404s', async () => {
    const { id } = await createHook();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 4 === 3
          ? srv.api('/graphql', { method: 'POST', json: { query: `mutation { deleteWebhook(id: "${id}") }` } })
          : srv.api(`/api/webhooks/${id}`, { method: 'DELETE' }),
      ),
    );
    const ok = answers.filter((r) => r.status === 200 && (r.body.success === true || r.body.data?.deleteWebhook === true));
    expect(ok, answers.map((r) => r.text).join('\n')).toHaveLength(1);
    for (const r of answers.filter((a) => !ok.includes(a))) {
      if (r.body.errors) expect(r.body.errors[0].extensions.code).toBe('NOT_FOUND');
      else expect([r.status, r.body]).toEqual([404, { success: false, error: `Webhook ${id} not found` }]);
    }
  });

  it('bad input is a 400 naming the field; permissions and scope apply', async () => {
    for (const [json, msg] of [
      [{ events: ['email.received'] }, 'url: is required'],
      [{ url: rx.url }, 'events: is required'],
      [{ url: rx.url, events: ['email.exploded'] }, 'events'],
      [{ url: rx.url, events: [] }, 'events'],
      [{ url: rx.url, events: 'email.received' }, 'events: must be an array of strings'],
      [{ url: rx.url, events: ['email.received'], secret: 'short' }, 'secret'],
      [{ url: rx.url, events: ['email.received'], is_active: 'maybe' }, 'is_active'],
      [{ url: rx.url, events: ['email.received'], colour: 'red' }, 'colour'],
      [{ url: 'not a url', events: ['email.received'] }, 'url: must be an absolute URL'],
    ] as const) {
      const r = await srv.api('/api/webhooks', { method: 'POST', json });
      expect(r.status, JSON.stringify(json)).toBe(400);
      expect(r.body.success).toBe(false);
      expect(r.body.error).toContain(msg);
    }
    expect((await srv.api('/api/webhooks/abc', { method: 'PUT', json: {} })).status).toBe(400);
    expect((await srv.api('/api/webhooks/999999', { method: 'PUT', json: {} })).status).toBe(404);

    const reader = await scopedKey(srv, ['read'], [account.accountId]);
    expect((await srv.api('/api/webhooks', { auth: reader })).status).toBe(200);
    const denied = await srv.api('/api/webhooks', { method: 'POST', json: { url: rx.url, events: ['email.received'] }, auth: reader });
    expect(denied.status).toBe(403);
    const writer = await scopedKey(srv, ['read', 'write'], [account.accountId]);
    const unscoped = await srv.api('/api/webhooks', { method: 'POST', json: { url: rx.url, events: ['email.received'] }, auth: writer });
    expect(unscoped.status).toBe(403);
    const scoped = await srv.api('/api/webhooks', { method: 'POST', json: { url: rx.url, events: ['email.received'], account_id: account.accountId }, auth: writer });
    expect(scoped.status, scoped.text).toBe(201);
    const all = await srv.api('/api/webhooks', { method: 'POST', json: { url: rx.url, events: ['email.received'] } });
    // The scoped key sees its account's webhook only; the unscoped one is a 404 for it.
    expect((await srv.api('/api/webhooks', { auth: writer })).body.data.webhooks.map((w: { id: number }) => w.id)).toEqual([scoped.body.data.id]);
    expect((await srv.api(`/api/webhooks/${all.body.data.id}`, { method: 'DELETE', auth: writer })).status).toBe(404);
  });

  it('refuses loopback, private, link-local/metadata and plain-http targets that are not allow-listed', async () => {
    for (const url of [
      'https://10.0.0.1/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://localhost/hook',
      'https://127.0.0.2/hook',
      'https://[::1]/hook',
      'https://192.168.1.10/',
      'https://100.64.0.1/',
      'https://0.0.0.0/',
      'http://example.com/hook',
      'ftp://example.com/',
      'https://user:pw@example.com/',
    ]) {
      const r = await srv.api('/api/webhooks', { method: 'POST', json: { url, events: ['email.received'] } });
      expect(r.status, `${url}: ${r.text}`).toBe(400);
      expect(r.body.error, url).toMatch(/^url: /);
    }
    const created = await createHook();
    const put = await srv.api(`/api/webhooks/${created.id}`, { method: 'PUT', json: { url: 'https://169.254.169.254/' } });
    expect(put.status).toBe(400);
  });
});

describe('POST /api/webhooks/{id}/test', () => {
  it('delivers a signed test payload now and answers the documented shape; a failing endpoint is a 502', async () => {
    const { id } = await createHook();
    const r = await srv.api(`/api/webhooks/${id}/test`, { method: 'POST' });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ success: true, data: { message: 'Test webhook delivered successfully', http_code: 200, response: 'OK' } });
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0]!.verified).toBe(true);
    expect(rx.received[0]!.json).toMatchObject({ event: 'webhook.test', data: { webhookId: id } });

    rx.behave({ status: 500, body: 'broken' });
    const failed = await srv.api(`/api/webhooks/${id}/test`, { method: 'POST' });
    expect(failed.status).toBe(502);
    expect(failed.body.error).toContain('HTTP 500');
    expect(failed.body.error).toContain('broken');
    // Test deliveries do not touch the counters.
    expect(await hook(id)).toMatchObject({ trigger_count: 0, consecutive_failures: 0 });
  });
});

describe('event deliveries', () => {
  it('an email.received from a real sync reaches the receiver signed, with the event payload', async () => {
    await createHook({ events: ['email.received'], account_id: undefined });
    const other = await syncedAccount({ dovecot, srv, dbUrl: db.url }, ['hello webhook']);
    await expectEventually(() => expect(rx.received.filter((r) => r.json?.event === 'email.received')).toHaveLength(1), { timeoutMs: 15_000, intervalMs: 100 });
    const got = rx.received[0]!;
    expect(got.verified).toBe(true);
    expect(got.json).toMatchObject({
      event: 'email.received',
      id: expect.stringMatching(/^[0-9a-f]{64}$/),
      data: { accountId: other.accountId, emailId: other.ids.get('hello webhook'), subject: 'hello webhook', folder: 'INBOX' },
    });
    expect(new Date(got.json!.timestamp).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(got.headers['webhook-id']).toMatch(/^msg_\d+_[0-9a-f]{64}$/);
    expect(got.headers['content-type']).toBe('application/json');
  }, 60_000);

  it('a reply joining a conversation is a thread.updated, to webhooks and to the threadUpdated subscription', async () => {
    expect((await srv.api('/api/webhooks')).body.data.supported_events).toContain('thread.updated');
    await createHook({ events: ['thread.updated'], account_id: undefined });
    const conv = await syncedAccount({ dovecot, srv, dbUrl: db.url }, ['Plan']);
    const { client } = await connectWs(srv.url, srv);
    const sub = collect(client, `subscription { threadUpdated(accountId: ${conv.accountId}) { threadId emailIds messageCount subject } }`);
    try {
      const root = (await srv.api(`/api/emails/${conv.ids.get('Plan')}`)).body.data;
      // A lone new message is only email.received: nothing yet.
      await new Promise((r) => setTimeout(r, 500));
      expect(rx.received.filter((r) => r.json?.event === 'thread.updated')).toEqual([]);
      await appendMessage(dovecot, conv.creds, 'INBOX', buildMessage({ subject: 'Re: Plan', headers: { 'In-Reply-To': root.message_id } }));
      await expectEventually(() => expect(rx.received.filter((r) => r.json?.event === 'thread.updated')).toHaveLength(1), { timeoutMs: 20_000, intervalMs: 100 });
      const [reply] = await sql<{ id: number }>(db.url, "SELECT id FROM emails WHERE subject = 'Re: Plan' AND account_id = $1", [conv.accountId]);
      const got = rx.received.find((r) => r.json?.event === 'thread.updated')!;
      expect(got.verified).toBe(true);
      expect(got.json!.data).toEqual({
        threadId: root.thread_id, accountId: conv.accountId, emailIds: [reply!.id], messageCount: 2, lastMessageAt: expect.any(String), subject: 'Plan',
      });
      await expectEventually(() => expect(sub.items).toEqual([{ threadId: String(root.thread_id), emailIds: [String(reply!.id)], messageCount: 2, subject: 'Plan' }]));
    } finally {
      sub.stop();
      await client.dispose();
    }
  }, 60_000);

  it('a failed attempt is retried with the same webhook-id; the log and counters show it', async () => {
    const { id } = await createHook();
    rx.behave((_r, n) => (n === 1 ? { status: 500, body: 'try again' } : { status: 200, body: 'OK' }));
    await emailUpdated();
    await expectEventually(() => expect(rx.received).toHaveLength(2), { timeoutMs: 15_000, intervalMs: 100 });
    const [first, second] = rx.received as [typeof rx.received[0], typeof rx.received[0]];
    expect(first.verified && second.verified).toBe(true);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.json!.id).toBe(first.json!.id);
    expect(second.json!.event).toBe('email.updated');
    expect(second.json!.data).toMatchObject({ emailId: account.ids.get('alpha'), accountId: account.accountId });
    await expectEventually(async () => {
      const log = await deliveries(id);
      expect(log.data).toHaveLength(1);
      expect(log.data[0]).toMatchObject({ attempt: 2, status: 'delivered', http_code: 200, error: null, event_type: 'email.updated', response_body: 'OK' });
      expect(log.data[0].latency_ms).toBeGreaterThanOrEqual(0);
      expect(log.meta).toEqual({ page: 1, per_page: 50, total: 1, total_pages: 1 });
    }, { timeoutMs: 5000, intervalMs: 100 });
    const w = await hook(id);
    expect(w).toMatchObject({ trigger_count: 2, consecutive_failures: 0 });
    expect(w.last_success_at).not.toBeNull();
    expect(w.last_failure_at).not.toBeNull();

    // Redelivery of a delivered delivery: one more attempt, same webhook-id.
    const deliveryId = (await deliveries(id)).data[0].id;
    const re = await srv.api(`/api/webhooks/${id}/deliveries/${deliveryId}/redeliver`, { method: 'POST' });
    expect(re.status, re.text).toBe(202);
    expect(re.body.data).toMatchObject({ id: deliveryId, status: 'pending' });
    await expectEventually(() => expect(rx.received).toHaveLength(3), { timeoutMs: 10_000, intervalMs: 100 });
    expect(rx.received[2]!.headers['webhook-id']).toBe(first.headers['webhook-id']);
    await expectEventually(async () => expect((await deliveries(id)).data[0]).toMatchObject({ attempt: 3, status: 'delivered' }), { timeoutMs: 5000, intervalMs: 100 });
    expect((await srv.api(`/api/webhooks/${id}/deliveries/999999/redeliver`, { method: 'POST' })).status).toBe(404);
  }, 60_000);

  it('receiver down (connection refused) → retried → delivered once it is back', async () => {
    const { id } = await createHook();
    await rx.down();
    try {
      await emailUpdated();
      await expectEventually(async () => {
        const d = (await deliveries(id)).data[0];
        expect(d?.attempt).toBeGreaterThanOrEqual(2);
        expect(d.status).toBe('pending');
        expect(d.error).toMatch(/ECONNREFUSED/);
        expect(d.http_code).toBeNull();
      }, { timeoutMs: 15_000, intervalMs: 100 });
    } finally {
      await rx.up();
    }
    await expectEventually(() => expect(rx.received).toHaveLength(1), { timeoutMs: 15_000, intervalMs: 100 });
    expect(rx.received[0]!.verified).toBe(true);
    await expectEventually(async () => expect((await deliveries(id)).data[0].status).toBe('delivered'), { timeoutMs: 5000, intervalMs: 100 });
    expect((await hook(id)).consecutive_failures).toBe(0);
  }, 60_000);

  it(`disables the webhook after ${MAX_FAILURES} consecutive failures; re-enabling resets the count`, async () => {
    const { id } = await createHook();
    rx.behave({ status: 503, body: 'unavailable' });
    await emailUpdated();
    await expectEventually(async () => expect(await hook(id)).toMatchObject({ is_active: false, consecutive_failures: MAX_FAILURES }), { timeoutMs: 20_000, intervalMs: 200 });
    const w = await hook(id);
    expect(w.disabled_reason).toContain(`${MAX_FAILURES} consecutive failed deliveries`);
    expect(w.disabled_reason).toContain('HTTP 503');
    expect(rx.received).toHaveLength(MAX_FAILURES);
    expect(new Set(rx.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    await expectEventually(async () => expect((await deliveries(id)).data[0]).toMatchObject({ status: 'failed', attempt: MAX_FAILURES, http_code: 503 }), { timeoutMs: 5000, intervalMs: 100 });

    // Disabled: new events are not delivered.
    await emailUpdated();
    await new Promise((r) => setTimeout(r, 1500));
    expect(rx.received).toHaveLength(MAX_FAILURES);

    rx.behave({ status: 204 });
    const on = await srv.api(`/api/webhooks/${id}`, { method: 'PUT', json: { is_active: true } });
    expect(on.body.data).toMatchObject({ is_active: true, consecutive_failures: 0, disabled_reason: null });
    await emailUpdated();
    await expectEventually(() => expect(rx.received).toHaveLength(MAX_FAILURES + 1), { timeoutMs: 10_000, intervalMs: 100 });
    await expectEventually(async () => expect(await hook(id)).toMatchObject({ is_active: true, consecutive_failures: 0 }), { timeoutMs: 5000, intervalMs: 100 });
  }, 60_000);

  it('a 410 Gone answer disables the webhook at once: no retries', async () => {
    const { id } = await createHook();
    rx.behave({ status: 410, body: 'gone' });
    await emailUpdated();
    await expectEventually(async () => expect(await hook(id)).toMatchObject({ is_active: false, consecutive_failures: 1 }), { timeoutMs: 10_000, intervalMs: 100 });
    expect((await hook(id)).disabled_reason).toContain('410 Gone');
    expect((await deliveries(id)).data[0]).toMatchObject({ status: 'failed', attempt: 1, http_code: 410, next_attempt_at: null });
    await new Promise((r) => setTimeout(r, 1500));
    expect(rx.received).toHaveLength(1);
  }, 30_000);
});
