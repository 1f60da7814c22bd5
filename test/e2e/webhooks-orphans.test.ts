/**
 * A pending delivery whose pg-boss job is gone is not stuck for good. pg-boss gives a job up (state `failed`) when
 * an attempt keeps throwing through its retries — a database outage longer than its backoff — and the delivery row
 * stayed `pending` with nothing left to retry it. The sweep (src/webhooks/orphan-sweep.ts) queues its next attempt.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELIVER_QUEUE } from '../../src/webhooks/dispatcher.js';
import { ORPHANED_DELIVERIES_SQL } from '../../src/webhooks/orphan-sweep.js';
import { expectEventually } from '../support/eventually.js';
import { syncedAccount, useMailEnv } from '../support/mail-account.js';
import { sql } from '../support/sync.js';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const t = useMailEnv({
  SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000',
  RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000',
  WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
  WEBHOOK_RETRY_DELAYS: '4,4',
  WEBHOOK_TIMEOUT_MS: '3000',
  // The sweep runs every 12 polls: 6 s here.
  WEBHOOK_POLL_INTERVAL_MS: '500',
});
let rx: WebhookReceiver;
let account: { accountId: number; ids: Map<string, number> };

beforeAll(async () => {
  rx = await startReceiver();
  account = await syncedAccount(t, ['alpha']);
}, 90_000);
afterAll(async () => {
  await rx?.close();
});

describe('pending deliveries without a job', () => {
  it('a retry whose job pg-boss gave up is queued again and delivered, once', async () => {
    const created = await t.srv.api('/api/webhooks', { method: 'POST', json: { url: rx.url, events: ['email.updated'], account_id: account.accountId } });
    expect(created.status, created.text).toBe(201);
    rx.secret = created.body.data.secret;
    rx.behave((_r, n) => (n === 1 ? { status: 500, body: 'try again' } : { status: 200, body: 'OK' }));
    const patched = await t.srv.api(`/api/emails/${account.ids.get('alpha')}`, { method: 'PATCH', json: { is_read: true } });
    expect(patched.status, patched.text).toBe(200);

    // The first attempt failed; its retry is queued 4 s later. pg-boss gives that job up (what it does after its own
    // retries are exhausted).
    await expectEventually(async () => {
      const [d] = await sql<{ attempt: number; status: string }>(t.dbUrl, 'SELECT attempt, status FROM webhook_deliveries');
      expect(d).toEqual({ attempt: 1, status: 'pending' });
    }, { timeoutMs: 15_000, intervalMs: 50 });
    const gaveUp = await sql(t.dbUrl, `UPDATE pgboss.job SET state = 'failed' WHERE name = 'webhook-deliver' AND state IN ('created', 'retry') RETURNING id`);
    expect(gaveUp).toHaveLength(1);

    await expectEventually(async () => {
      const [d] = await sql<{ attempt: number; status: string }>(t.dbUrl, 'SELECT attempt, status FROM webhook_deliveries');
      expect(d).toEqual({ attempt: 2, status: 'delivered' });
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(rx.received).toHaveLength(2);
    expect(rx.received[1]!.verified).toBe(true);
    expect(rx.received[1]!.headers['webhook-id']).toBe(rx.received[0]!.headers['webhook-id']);

    // Nothing more: the next sweeps find nothing to resume.
    await new Promise((r) => setTimeout(r, 7000));
    expect(rx.received).toHaveLength(2);
  }, 90_000);

  it('the sweep reads the pending deliveries through their index, not the whole delivery history', async () => {
    // Deliveries are kept for EVENTS_RETENTION_DAYS (30 by default: millions of rows on a busy install), and the sweep
    // runs every minute: a scan of the table each time would be a steady load for a handful of pending rows.
    const c = new pg.Client({ connectionString: t.dbUrl });
    await c.connect();
    try {
      await c.query('SET enable_seqscan = off');
      const plan = (await c.query(`EXPLAIN ${ORPHANED_DELIVERIES_SQL}`, [DELIVER_QUEUE])).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('webhook_deliveries_pending');
    } finally {
      await c.end();
    }
  });
});
