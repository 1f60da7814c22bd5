/**
 * Pending deliveries whose pg-boss job is gone get a new one. A pending delivery always has a live job (created in
 * the transaction that made it pending: dispatcher.ts, delivery-worker.ts), until pg-boss gives the job up — an
 * attempt that kept throwing through its retries, e.g. a database outage longer than pg-boss's backoff (~40 min) —
 * or someone deletes it. Such a delivery used to stay `pending` for good, with nothing retrying it: the sweep queues
 * its next attempt, in the transaction that finds it. One instance sweeps at a time (a transaction-level advisory
 * lock, tried: the others skip that round), so no attempt is queued twice.
 *
 * It reads pg-boss's job table (`<schema>.job`, partitioned by queue name), the one place that knows which jobs are
 * alive; a pg-boss upgrade that changes it fails the sweep's test.
 */
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { LockNamespace } from '../db/locks.js';
import type { Logger } from '../shared/logger.js';
import { DELIVER_QUEUE, deliverJobGroup, type DeliverJob } from './dispatcher.js';
import { withTx } from './pg-tx.js';

/** The schema pg-boss is installed in (its default, passed explicitly in index.ts). */
export const BOSS_SCHEMA = 'pgboss';
const BATCH = 1000;

/**
 * Due pending deliveries without a live job ($1: the queue), a batch at a time. It runs every sweep on tables that
 * keep every delivery for EVENTS_RETENTION_DAYS: the pending ones are read through their partial index
 * (`webhook_deliveries_pending`), never by a scan of the whole history.
 */
export const ORPHANED_DELIVERIES_SQL = `SELECT d.id, d.attempt, d.webhook_id FROM webhook_deliveries d
  WHERE d.status = 'pending' AND d.next_attempt_at <= now()
    AND NOT EXISTS (SELECT 1 FROM ${BOSS_SCHEMA}.job j
                    WHERE j.name = $1 AND j.state IN ('created', 'retry', 'active')
                      AND (j.data->>'deliveryId')::bigint = d.id)
  ORDER BY d.id LIMIT ${BATCH}`;

export class OrphanedDeliverySweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | null = null;

  constructor(
    private readonly deps: { pool: pg.Pool; boss: PgBoss; log: Logger; onResumed: () => void },
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.run(), this.intervalMs);
    this.timer.unref();
  }

  /** One sweep (or the one in progress); how many deliveries it resumed. Errors are logged, the next sweep retries. */
  run(): Promise<number> {
    this.running ??= this.sweep()
      .catch((err: unknown) => {
        this.deps.log.warn({ err }, 'sweeping webhook deliveries without a job failed; retrying at the next sweep');
        return 0;
      })
      .finally(() => (this.running = null));
    return this.running;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      const resumed = await withTx(this.deps.pool, async ({ client, db }) => {
        const turn = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, 0) AS ok', [LockNamespace.webhookSweep]);
        if (!turn.rows[0]?.ok) return 0; // another instance is sweeping
        const { rows } = await client.query<{ id: string; attempt: number; webhook_id: number }>(ORPHANED_DELIVERIES_SQL, [DELIVER_QUEUE]);
        if (rows.length === 0) return 0;
        const jobs = rows.map((r) => ({ data: { deliveryId: Number(r.id), attempt: r.attempt + 1 } satisfies DeliverJob, ...deliverJobGroup(r.webhook_id) }));
        await this.deps.boss.insert(DELIVER_QUEUE, jobs, { db });
        return rows.length;
      });
      total += resumed;
      if (resumed < BATCH) break;
    }
    if (total > 0) {
      this.deps.log.warn({ deliveries: total }, 'webhook deliveries had lost their pg-boss job (given up after its retries, or deleted): their next attempt is queued again');
      this.deps.onResumed();
    }
    return total;
  }
}
