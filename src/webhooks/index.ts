/**
 * The webhook delivery engine, assembled on every instance: pg-boss (its own `pgboss` schema in the same database,
 * outside MikroORM's entities and migrations), the dispatcher (events → delivery jobs, exactly once) and the worker
 * (signed attempts with retries). Jobs are durable: a killed instance's jobs expire and run elsewhere or after restart.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import type { Config } from '../config.js';
import { guardPool } from '../db/pg-guard.js';
import type { DeliveryQueue, WebhookSender, WebhooksService } from '../modules/webhooks/index.js';
import type { Logger } from '../shared/logger.js';
import { DELIVER_QUEUE, WebhookDispatcher, type DeliverJob } from './dispatcher.js';
import { DeliveryWorker } from './delivery-worker.js';

export { DELIVER_QUEUE, type DeliverJob } from './dispatcher.js';

export interface WebhookEngine extends DeliveryQueue {
  readonly dispatcher: WebhookDispatcher;
  close(): Promise<void>;
}

export interface WebhookEngineDeps {
  orm: MikroORM;
  databaseUrl: string;
  config: Config;
  log: Logger;
  webhooks: WebhooksService;
  sender: WebhookSender;
}

export async function createWebhookEngine({ orm, databaseUrl, config, log, webhooks, sender }: WebhookEngineDeps): Promise<WebhookEngine> {
  const wlog = log.child({ module: 'webhooks' });
  const c = config.webhooks;
  // A job still active this long after it started belongs to a dead instance (an attempt takes at most timeoutMs).
  const expireInSeconds = Math.ceil(c.timeoutMs / 1000) + 5;
  // Expired jobs are noticed by the supervise pass: keep it well inside the expiry.
  const superviseSeconds = Math.max(1, Math.min(60, Math.floor(expireInSeconds / 2)));
  // NOTIFY wakes workers for new jobs, but a retry's `startAfter` passes silently: poll at half the shortest delay.
  const pollSeconds = Math.max(0.5, Math.min(10, Math.min(...c.retryDelaysSeconds) / 2));
  const boss = new PgBoss({
    connectionString: databaseUrl,
    max: 4,
    application_name: 'incoming-webhooks',
    useListenNotify: true,
    schedule: false,
    superviseIntervalSeconds: superviseSeconds,
    monitorIntervalSeconds: superviseSeconds,
  });
  boss.on('error', (err) => wlog.warn({ err }, 'pg-boss error'));
  await boss.start();
  // pg-boss's own retries only cover crashes and unexpected errors; HTTP failures follow our schedule (new jobs).
  const queueOptions = { expireInSeconds, retryLimit: 10, retryDelay: 5, retryBackoff: true, retryDelayMax: 600, deleteAfterSeconds: 86_400, notify: true };
  await boss.createQueue(DELIVER_QUEUE, queueOptions);
  await boss.updateQueue(DELIVER_QUEUE, queueOptions);

  const pool = guardPool(new pg.Pool({ connectionString: databaseUrl, max: 4, application_name: 'incoming-webhooks' }), wlog, 'webhooks');
  const worker = new DeliveryWorker({
    pool, boss, webhooks, sender, log: wlog,
    policy: { retryDelaysSeconds: c.retryDelaysSeconds, maxConsecutiveFailures: c.maxConsecutiveFailures },
  });
  const dispatcher = new WebhookDispatcher({ orm, pool, boss, databaseUrl, pollMs: c.pollIntervalMs, log: wlog });
  // One poller per slot, one job each: a poller that took a batch would wait for its slowest attempt before fetching
  // again, so one slow receiver's jobs held up every other webhook's. And at most perWebhookConcurrency jobs of one
  // webhook (its pg-boss group, counted across instances) are active at once: with a hanging receiver and a backlog,
  // the other webhooks still get the remaining slots. A poller that ran a job fetches again at once (pg-boss would
  // wait for its poll interval after a batch of one: burstWhenBatchFull needs batches of two or more); an idle one
  // waits for NOTIFY or its poll interval.
  for (let slot = 0; slot < c.concurrency; slot++) {
    let workerId = ''; // known once work() returns: a job finishing before that wakes no one (its poll still comes)
    workerId = await boss.work<DeliverJob>(
      DELIVER_QUEUE,
      {
        batchSize: 1, groupConcurrency: c.perWebhookConcurrency, perJobResults: true,
        pollingIntervalSeconds: Math.min(2, pollSeconds), notifyPollingIntervalSeconds: pollSeconds,
      },
      async ([job]) => {
        if (!job) return [];
        try {
          await worker.handle(job.data);
          return [{ id: job.id, status: 'completed' as const }];
        } catch (err) {
          wlog.warn({ err, job: job.data }, 'webhook delivery job failed; pg-boss retries it');
          return [{ id: job.id, status: 'failed' as const, output: { message: (err as Error).message } }];
        } finally {
          boss.notifyWorker(workerId);
        }
      },
    );
  }
  await dispatcher.start();
  return {
    dispatcher,
    redeliver: (id) => worker.redeliver(id),
    close: async () => {
      await dispatcher.close();
      await boss.stop({ graceful: true, timeout: Math.min(c.timeoutMs + 2000, config.shutdownTimeoutMs) }).catch((err: unknown) => wlog.warn({ err }, 'pg-boss stop failed'));
      await pool.end().catch(() => undefined);
    },
  };
}
