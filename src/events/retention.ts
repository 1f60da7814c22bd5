/**
 * Outbox retention: events older than EVENTS_RETENTION_DAYS are deleted (0 keeps them forever), in batches so no
 * statement holds locks for long, and never one the webhook dispatcher has not consumed yet (its cursor) — a webhook
 * that was down for longer than the retention still gets every event. The webhook delivery log follows the same
 * retention. Every instance runs it; the deletes are idempotent. Replay (`events(after:)`) from a pruned id answers
 * "unknown event id": resubscribe without `after`.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { deleteInBatches } from '../db/sql.js';
import type { Logger } from '../shared/logger.js';

/** Deletes expired events; returns how many. */
export async function pruneEvents(orm: MikroORM, retentionDays: number): Promise<number> {
  if (retentionDays <= 0) return 0;
  return deleteInBatches(
    orm,
    'events',
    'seq',
    `created_at < now() - make_interval(days => ?) AND seq <= coalesce((SELECT last_seq FROM webhook_dispatch_cursor WHERE id = 1), 0)`,
    [retentionDays],
  );
}

/**
 * Deletes webhook delivery log rows older than the same retention (by their last activity), never a pending one (its
 * job is still to run). An older delivery could not be redelivered anyway: its event is gone.
 */
export async function pruneWebhookDeliveries(orm: MikroORM, retentionDays: number): Promise<number> {
  if (retentionDays <= 0) return 0;
  return deleteInBatches(
    orm,
    'webhook_deliveries',
    'id',
    `status <> 'pending' AND coalesce(delivered_at, last_attempt_at, created_at) < now() - make_interval(days => ?)`,
    [retentionDays],
  );
}

/** Prunes now and then every `intervalMs`; returns the stop function. */
export function startEventRetention(orm: MikroORM, retentionDays: number, log: Logger, intervalMs = 3_600_000): () => void {
  if (retentionDays <= 0) return () => undefined;
  const run = async () => {
    try {
      const events = await pruneEvents(orm, retentionDays);
      const deliveries = await pruneWebhookDeliveries(orm, retentionDays);
      if (events + deliveries > 0) log.info({ events, deliveries, retentionDays }, 'expired events and webhook deliveries removed');
    } catch (err) {
      log.warn({ err }, 'event retention failed');
    }
  };
  void run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
