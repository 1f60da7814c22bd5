/**
 * A webhook whose secret was sealed under another INCOMING_SECRET_KEY (a lost or rotated key, an instance started with
 * the wrong one) cannot be signed: each attempt fails with that reason in the delivery log, following the retry
 * schedule to the automatic disable, instead of a delivery left `pending` for good with no error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initOrm, type Orm } from '../../src/db/orm.js';
import { appendEvents } from '../../src/events/index.js';
import { entities } from '../../src/modules/entities.js';
import { expectEventually } from '../support/eventually.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const ENV = {
  SYNC_ENABLED: 'false', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_RETRY_DELAYS: '1,1,1', WEBHOOK_MAX_CONSECUTIVE_FAILURES: '3',
  WEBHOOK_TIMEOUT_MS: '2000', WEBHOOK_POLL_INTERVAL_MS: '1000', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000',
};
let db: TestDatabase;
let orm: Orm;
let rx: WebhookReceiver;
const servers: TestServer[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await initOrm({ url: db.url, entities, poolMax: 2 });
  rx = await startReceiver();
});
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
  await rx?.close();
  await orm?.close();
  await db?.drop();
});

describe('webhook secret sealed under another INCOMING_SECRET_KEY', () => {
  it('each attempt fails with the reason in the log, and the webhook ends disabled saying why', async () => {
    const first = await startTestServer(db.url, { ...ENV, INCOMING_SECRET_KEY: 'ab'.repeat(32) });
    const created = await first.api('/api/webhooks', { method: 'POST', json: { url: rx.url, events: ['email.categorized'] } });
    expect(created.status, created.text).toBe(201);
    const id = created.body.data.id as number;
    await first.close();

    const srv = await startTestServer(db.url, { ...ENV, INCOMING_SECRET_KEY: 'cd'.repeat(32) });
    servers.push(srv);
    await appendEvents(orm.em.fork(), [{ type: 'email.categorized', accountId: null, identity: 'wrong-key', payload: { emailId: 1 } }]);
    await expectEventually(async () => {
      const log = (await srv.api(`/api/webhooks/${id}/deliveries`)).body;
      expect(log.data).toMatchObject([{ status: 'failed', attempt: 3, http_code: null, error: expect.stringContaining('INCOMING_SECRET_KEY') }]);
    }, { timeoutMs: 20_000, intervalMs: 200 });
    const hook = (await srv.api('/api/webhooks')).body.data.webhooks[0];
    expect(hook).toMatchObject({ id, is_active: false, consecutive_failures: 3, trigger_count: 3 });
    expect(hook.disabled_reason).toContain('INCOMING_SECRET_KEY');
    expect(rx.received).toHaveLength(0); // nothing unsigned ever went out
  }, 60_000);
});
