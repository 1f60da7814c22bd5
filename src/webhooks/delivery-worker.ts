/**
 * Makes delivery attempts: one pg-boss job = one attempt of one delivery. The HTTP request runs outside any
 * transaction; its outcome is then recorded in one transaction: the delivery row (guarded on `attempt`, so a job that
 * pg-boss re-runs after a crash between our commit and its completion changes nothing), the webhook's counters (and
 * the automatic disable), and the next attempt's job with its `startAfter` delay. A server killed mid-request leaves
 * the job active; pg-boss expires it and runs it again: at-least-once, with the same `webhook-id`.
 */
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { Logger } from '../shared/logger.js';
import type { Permission } from '../modules/auth/index.js';
import { ownerRefusal, webhookBody, webhookMessageId, type AttemptResult, type WebhookSender, type WebhooksService } from '../modules/webhooks/index.js';
import { DELIVER_QUEUE, deliverJobGroup, type DeliverJob } from './dispatcher.js';
import { withTx } from './pg-tx.js';

export interface DeliveryPolicy {
  /** Delay in seconds after failed attempt n (index n-1); no entry = that was the last attempt. */
  retryDelaysSeconds: readonly number[];
  maxConsecutiveFailures: number;
}

interface DeliveryRow {
  id: string;
  attempt: number;
  status: string;
  event_id: string;
  event_type: string;
  webhook_id: number;
  url: string;
  secret_sealed: string;
  is_active: boolean;
  payload: unknown;
  event_created_at: Date | null;
  account_id: number | null;
  owner_key_id: number | null;
  owner_exists: boolean;
  owner_revoked: boolean;
  owner_permissions: Permission[] | null;
  owner_account_ids: number[] | null;
}

export class DeliveryWorker {
  constructor(
    private readonly deps: { pool: pg.Pool; boss: PgBoss; webhooks: WebhooksService; sender: WebhookSender; policy: DeliveryPolicy; log: Logger },
  ) {}

  async handle(job: DeliverJob): Promise<void> {
    const { rows } = await this.deps.pool.query<DeliveryRow>(
      `SELECT d.id, d.attempt, d.status, d.event_id, d.event_type, w.id AS webhook_id, w.url, w.secret_sealed, w.is_active,
              e.payload, e.created_at AS event_created_at, w.account_id, w.owner_key_id, k.id IS NOT NULL AS owner_exists,
              k.revoked_at IS NOT NULL AS owner_revoked, k.permissions AS owner_permissions, k.account_ids AS owner_account_ids
       FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id LEFT JOIN events e ON e.id = d.event_id
         LEFT JOIN api_keys k ON k.id = w.owner_key_id
       WHERE d.id = $1`,
      [job.deliveryId],
    );
    const d = rows[0];
    // Deleted webhook, or this attempt is already recorded (a re-run job): nothing to do.
    if (!d || d.status !== 'pending' || d.attempt >= job.attempt) return;
    if (!d.is_active) return this.finish(d.id, job.attempt, 'The webhook is disabled');
    if (d.event_created_at === null) return this.finish(d.id, job.attempt, 'The event is no longer stored');
    const refusal = ownerRefusal({
      ownerKeyId: d.owner_key_id, ownerExists: d.owner_exists, ownerRevoked: d.owner_revoked,
      ownerPermissions: d.owner_permissions, ownerAccountIds: d.owner_account_ids, accountId: d.account_id,
    });
    if (refusal) return this.disable(d, job.attempt, refusal);
    let secret: string;
    try {
      secret = this.deps.webhooks.secret({ id: d.webhook_id, secretSealed: d.secret_sealed });
    } catch (err) {
      // A secret sealed under another INCOMING_SECRET_KEY: thrown, the job would be retried by pg-boss until it gave
      // up, leaving the delivery `pending` for good with no error shown. A failed attempt says why and follows the
      // retry schedule (and the automatic disable), so the reason reaches the delivery log and `disabled_reason`.
      this.deps.log.error({ err, webhookId: d.webhook_id }, 'cannot sign a webhook delivery');
      return this.record(d, job.attempt, { ok: false, httpCode: null, latencyMs: 0, error: (err as Error).message, responseBody: null });
    }
    const body = webhookBody({ type: d.event_type, id: d.event_id, createdAt: d.event_created_at, payload: d.payload });
    const result = await this.deps.sender.send(d.url, secret, { msgId: webhookMessageId(d.webhook_id, d.event_id), body });
    await this.record(d, job.attempt, result);
  }

  /** Queues one more attempt of a finished delivery now, in the transaction that marks it pending again. */
  async redeliver(deliveryId: number): Promise<void> {
    await withTx(this.deps.pool, async ({ client, db }) => {
      const { rows } = await client.query<{ attempt: number; webhook_id: number }>(
        `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now() WHERE id = $1 AND status <> 'pending' RETURNING attempt, webhook_id`,
        [deliveryId],
      );
      const row = rows[0];
      if (row) await this.deps.boss.send(DELIVER_QUEUE, { deliveryId, attempt: row.attempt + 1 } satisfies DeliverJob, { db, ...deliverJobGroup(row.webhook_id) });
    });
  }

  /**
   * The webhook's owner key may no longer read what it delivers (revoked, deleted, lost `read` or the account): nothing
   * is sent, the webhook is disabled with the reason and this delivery ends as failed with it (the webhook's other
   * pending deliveries end as those of a disabled webhook do).
   */
  private async disable(d: DeliveryRow, attempt: number, reason: string): Promise<void> {
    await withTx(this.deps.pool, async ({ client }) => {
      const { rowCount } = await client.query(
        'UPDATE webhooks SET is_active = false, disabled_reason = $2, updated_at = now() WHERE id = $1 AND is_active',
        [d.webhook_id, reason],
      );
      await this.finish(d.id, attempt, reason, client);
      if (rowCount) this.deps.log.warn({ webhookId: d.webhook_id, ownerKeyId: d.owner_key_id, reason }, 'webhook disabled: its API key may no longer read what it delivers');
    });
  }

  private async finish(id: string, attempt: number, error: string, db: Pick<pg.PoolClient, 'query'> = this.deps.pool): Promise<void> {
    await db.query(
      `UPDATE webhook_deliveries SET status = 'failed', error = $3, next_attempt_at = NULL WHERE id = $1 AND attempt < $2 AND status = 'pending'`,
      [id, attempt, error],
    );
  }

  private async record(d: DeliveryRow, attempt: number, r: AttemptResult): Promise<void> {
    const { policy } = this.deps;
    await withTx(this.deps.pool, async ({ client, db }) => {
      const hook = (
        await client.query<{ is_active: boolean; consecutive_failures: number }>(
          'SELECT is_active, consecutive_failures FROM webhooks WHERE id = $1 FOR UPDATE',
          [d.webhook_id],
        )
      ).rows[0];
      if (!hook) return; // deleted meanwhile (the delivery row went with it)
      const failures = r.ok ? 0 : hook.consecutive_failures + 1;
      // 410 Gone: the receiver says the endpoint is gone for good (Standard Webhooks: stop sending to it).
      const gone = r.httpCode === 410;
      const disable = !r.ok && hook.is_active && (gone || failures >= policy.maxConsecutiveFailures);
      const active = hook.is_active && !disable;
      const delay = r.ok || !active ? undefined : policy.retryDelaysSeconds[attempt - 1];
      const status = r.ok ? 'delivered' : delay !== undefined ? 'pending' : 'failed';
      const updated = await client.query(
        `UPDATE webhook_deliveries SET attempt = $2, status = $3, http_code = $4, latency_ms = $5, error = $6, response_body = $7,
           last_attempt_at = now(), next_attempt_at = CASE WHEN $3 = 'pending' THEN now() + make_interval(secs => $8) END,
           delivered_at = CASE WHEN $3 = 'delivered' THEN now() ELSE delivered_at END
         WHERE id = $1 AND attempt < $2`,
        [d.id, attempt, status, r.httpCode, r.latencyMs, r.error, r.responseBody?.replace(/\0/g, '') ?? null, delay ?? 0],
      );
      if (updated.rowCount === 0) return; // recorded by a concurrent run of the same attempt
      await client.query(
        `UPDATE webhooks SET trigger_count = trigger_count + 1, last_triggered_at = now(),
           last_success_at = CASE WHEN $2 THEN now() ELSE last_success_at END,
           last_failure_at = CASE WHEN $2 THEN last_failure_at ELSE now() END,
           consecutive_failures = $3, is_active = $4,
           disabled_reason = CASE WHEN $5 THEN $6 ELSE disabled_reason END
         WHERE id = $1`,
        [d.webhook_id, r.ok, failures, active, disable, gone ? 'Disabled: the receiver answered 410 Gone' : `Disabled after ${failures} consecutive failed deliveries (last error: ${r.error})`],
      );
      if (delay !== undefined) {
        await this.deps.boss.send(DELIVER_QUEUE, { deliveryId: Number(d.id), attempt: attempt + 1 } satisfies DeliverJob, { startAfter: delay, db, ...deliverJobGroup(d.webhook_id) });
      }
      if (disable) this.deps.log.warn({ webhookId: d.webhook_id, failures, gone }, gone ? 'webhook disabled: its receiver answered 410 Gone' : 'webhook disabled after consecutive failures');
    });
  }
}
