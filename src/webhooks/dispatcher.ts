/**
 * Turns new outbox events into delivery jobs, exactly once across instances. Every instance runs one; each batch is
 * one transaction that locks the single cursor row (`FOR UPDATE`: instances take turns, the next one continues from
 * the moved cursor), reads the events after it (readEvents: seq order, gap-free), inserts one delivery row per
 * matching (webhook, event) — unique, ON CONFLICT DO NOTHING as a second guard — enqueues one pg-boss job per new row
 * through the same transaction, and moves the cursor. A crash anywhere rolls all of it back.
 * Woken by the outbox NOTIFY and by a periodic poll (a missed notification only delays).
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { EventsWakeLoop, readEvents } from '../events/index.js';
import type { Logger } from '../shared/logger.js';
import { withTx } from './pg-tx.js';

export const DELIVER_QUEUE = 'webhook-deliver';
const BATCH = 500;

export interface DeliverJob {
  deliveryId: number;
  /** The attempt this job makes (1-based); a job whose attempt was already recorded is a duplicate and does nothing. */
  attempt: number;
}

/** Every job of a webhook is in its webhook's pg-boss group, limited in the slots it takes (delivery-slots.ts). */
export const deliverJobGroup = (webhookId: number) => ({ group: { id: String(webhookId) } });

interface HookRow {
  id: number;
  events: string[];
  account_id: number | null;
  created_at: Date;
}

export class WebhookDispatcher {
  private readonly loop: EventsWakeLoop;

  constructor(
    private readonly deps: { orm: MikroORM; pool: pg.Pool; boss: PgBoss; databaseUrl: string; pollMs: number; log: Logger; onPass?: () => void },
  ) {
    this.loop = new EventsWakeLoop({
      url: deps.databaseUrl,
      pollMs: deps.pollMs,
      log: deps.log,
      name: 'webhook dispatch',
      pass: async () => {
        while (!this.loop.isClosed && (await this.batch()) === BATCH);
        deps.onPass?.();
      },
    });
  }

  async start(): Promise<void> {
    await this.loop.start();
    this.wake();
  }

  /** Runs a dispatch pass now, or once more right after the one in progress. */
  wake(): void {
    this.loop.wake();
  }

  /** Waits for the pass in progress (tests, shutdown). */
  async idle(): Promise<void> {
    await this.loop.idle();
  }

  /** One batch; returns how many events it consumed. */
  private async batch(): Promise<number> {
    return withTx(this.deps.pool, async ({ client, db }) => {
      const cursor = await client.query<{ seq: string }>('SELECT last_seq::text AS seq FROM webhook_dispatch_cursor WHERE id = 1 FOR UPDATE');
      const afterSeq = cursor.rows[0]?.seq;
      if (afterSeq === undefined) throw new Error('webhook_dispatch_cursor has no row: run the migrations');
      const events = await readEvents(this.deps.orm.em.fork(), { afterSeq, limit: BATCH });
      if (events.length === 0) return 0;
      const hooks = (await client.query<HookRow>('SELECT id, events, account_id, created_at FROM webhooks WHERE is_active')).rows;
      const pairs: [number, string, string][] = [];
      for (const e of events) {
        for (const h of hooks) {
          // Events from before the webhook existed are not its business (the cursor may lag a little behind).
          if (h.events.includes(e.type) && (h.account_id === null || h.account_id === e.accountId) && e.createdAt >= h.created_at) {
            pairs.push([h.id, e.id, e.type]);
          }
        }
      }
      if (pairs.length > 0) {
        const inserted = await client.query<{ id: string; webhook_id: number }>(
          `INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, status, attempt, next_attempt_at, created_at)
           SELECT w, e, t, 'pending', 0, now(), now() FROM unnest($1::int[], $2::text[], $3::text[]) AS x(w, e, t)
           ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING id, webhook_id`,
          [pairs.map((p) => p[0]), pairs.map((p) => p[1]), pairs.map((p) => p[2])],
        );
        if (inserted.rows.length > 0) {
          const jobs = inserted.rows.map((r) => ({ data: { deliveryId: Number(r.id), attempt: 1 } satisfies DeliverJob, ...deliverJobGroup(r.webhook_id) }));
          await this.deps.boss.insert(DELIVER_QUEUE, jobs, { db });
        }
      }
      await client.query('UPDATE webhook_dispatch_cursor SET last_seq = $1 WHERE id = 1', [events[events.length - 1]!.seq]);
      return events.length;
    });
  }

  async close(): Promise<void> {
    await this.loop.close();
  }
}
