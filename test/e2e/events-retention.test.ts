/**
 * Outbox retention: old events go, recent ones and those the webhook dispatcher has not consumed yet stay; the webhook
 * delivery log follows, never dropping a pending delivery.
 */
import { describe, expect, it } from 'vitest';
import { appendEvents, pruneEvents, pruneWebhookDeliveries } from '../../src/events/index.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql } from '../support/sync.js';

const t = useOrmDatabase();

const event = (identity: string) => ({ type: 'sync.completed' as const, accountId: null, identity, payload: { identity } as never });

describe('pruneEvents', () => {
  it('deletes events older than the retention that the dispatcher has consumed; 0 days keeps everything', async () => {
    await appendEvents(t.orm.em.fork(), [event('old-consumed'), event('old-pending'), event('recent')]);
    const rows = await sql<{ seq: string; identity: string }>(t.db.url, `SELECT seq::text, payload->>'identity' AS identity FROM events ORDER BY seq`);
    const seq = Object.fromEntries(rows.map((r) => [r.identity, r.seq]));
    await sql(t.db.url, `UPDATE events SET created_at = now() - interval '40 days' WHERE seq IN ($1, $2)`, [seq['old-consumed'], seq['old-pending']]);
    await sql(t.db.url, 'UPDATE webhook_dispatch_cursor SET last_seq = $1 WHERE id = 1', [seq['old-consumed']]);

    expect(await pruneEvents(t.orm, 0)).toBe(0);
    expect(await pruneEvents(t.orm, 30)).toBe(1);
    const left = await sql<{ identity: string }>(t.db.url, `SELECT payload->>'identity' AS identity FROM events ORDER BY seq`);
    expect(left.map((r) => r.identity)).toEqual(['old-pending', 'recent']);

    await sql(t.db.url, 'UPDATE webhook_dispatch_cursor SET last_seq = $1 WHERE id = 1', [seq['recent']]);
    expect(await pruneEvents(t.orm, 30)).toBe(1);
    expect(await pruneEvents(t.orm, 30)).toBe(0);
  });
});

describe('pruneWebhookDeliveries', () => {
  it('deletes finished deliveries whose last activity is older than the retention; pending ones stay', async () => {
    const [hook] = await sql<{ id: number }>(
      t.db.url,
      `INSERT INTO webhooks (name, url, events, secret_sealed, created_at, updated_at) VALUES ('h', 'https://example.com/h', '["*"]', 'x', now(), now()) RETURNING id`,
    );
    const add = (eventId: string, status: string, age: string, lastAttempt: string | null) =>
      sql(
        t.db.url,
        `INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, status, created_at, last_attempt_at, delivered_at)
         VALUES ($1, $2, 'email.received', $3, now() - $4::interval, now() - $5::interval, CASE WHEN $3 = 'delivered' THEN now() - $5::interval END)`,
        [hook!.id, eventId, status, age, lastAttempt ?? age],
      );
    await add('old-delivered', 'delivered', '40 days', null);
    await add('old-failed', 'failed', '40 days', null);
    await add('old-pending', 'pending', '40 days', null);
    await add('old-but-retried-lately', 'failed', '40 days', '2 days');
    await add('recent', 'delivered', '1 day', null);

    expect(await pruneWebhookDeliveries(t.orm, 0)).toBe(0);
    expect(await pruneWebhookDeliveries(t.orm, 30)).toBe(2);
    const left = await sql<{ event_id: string }>(t.db.url, 'SELECT event_id FROM webhook_deliveries ORDER BY id');
    expect(left.map((r) => r.event_id)).toEqual(['old-pending', 'old-but-retried-lately', 'recent']);
  });
});
