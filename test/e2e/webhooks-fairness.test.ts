/**
 * One slow receiver must not hold up the other webhooks. A receiver that hangs (every request held open) with a
 * backlog of deliveries takes at most WEBHOOK_CONCURRENCY_PER_WEBHOOK attempt slots; a healthy webhook's delivery
 * goes through while all of those are still hanging. Before, the worker took its jobs in batches and the slow
 * webhook's backlog filled every slot, so nothing else was delivered until the slow receiver answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type DovecotServer } from '../support/dovecot.js';
import { expectEventually } from '../support/eventually.js';
import { syncedAccount } from '../support/mail-account.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

let dovecot: DovecotServer;
let db: TestDatabase;
let srv: TestServer;
let slow: WebhookReceiver;
let healthy: WebhookReceiver;
let account: { accountId: number; ids: Map<string, number> };

beforeAll(async () => {
  dovecot = await startDovecot();
  db = await createTestDatabase();
  srv = await startTestServer(db.url, {
    SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000',
    RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    WEBHOOK_CONCURRENCY: '4',
    WEBHOOK_TIMEOUT_MS: '60000',
    WEBHOOK_POLL_INTERVAL_MS: '500',
  });
  [slow, healthy] = [await startReceiver(), await startReceiver()];
  account = await syncedAccount({ dovecot, srv, dbUrl: db.url }, Array.from({ length: 12 }, (_, i) => `m${i}`));
}, 90_000);
afterAll(async () => {
  await slow?.close();
  await healthy?.close();
  await srv?.close();
  await dovecot?.stop();
  await db?.drop();
});

async function createHook(rx: WebhookReceiver): Promise<number> {
  const r = await srv.api('/api/webhooks', { method: 'POST', json: { url: rx.url, events: ['email.updated'], account_id: account.accountId } });
  expect(r.status, r.text).toBe(201);
  rx.secret = r.body.data.secret;
  return r.body.data.id;
}

async function change(path: string, method: string, json: Record<string, unknown>): Promise<void> {
  const r = await srv.api(path, { method, json });
  expect(r.status, r.text).toBe(200);
}

describe('webhook delivery slots', () => {
  it('a hanging receiver with a backlog holds only its share of the slots: another webhook is still delivered', async () => {
    slow.behave('hold');
    await createHook(slow);
    // A backlog of 12 events from one transaction: dispatched together, so every slot looks for jobs at once.
    await change('/api/emails/bulk', 'POST', { ids: [...account.ids.values()], action: 'mark_read' });
    // Its share (half of WEBHOOK_CONCURRENCY=4) is hanging, and it gets no more while those hang.
    await expectEventually(() => expect(slow.received.length).toBe(2), { timeoutMs: 15_000 });
    await createHook(healthy);
    await change(`/api/emails/${account.ids.get('m0')}`, 'PATCH', { is_read: false });
    await expectEventually(() => expect(healthy.received.map((r) => r.verified)).toEqual([true]), { timeoutMs: 15_000 });
    expect(slow.received.length).toBe(2);
    // Once the slow receiver answers, its backlog drains: all 13 events, each once.
    slow.behave({ status: 200 });
    slow.release();
    await expectEventually(() => expect(new Set(slow.received.map((r) => r.headers['webhook-id'])).size).toBe(13), { timeoutMs: 30_000 });
  }, 90_000);
});
