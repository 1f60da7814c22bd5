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
import { DELIVER_QUEUE, WebhookDispatcher } from './dispatcher.js';
import { DeliveryWorker } from './delivery-worker.js';
import { DeliverySlots } from './delivery-slots.js';
import { BOSS_SCHEMA, OrphanedDeliverySweep } from './orphan-sweep.js';

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
  // The slots are woken for new jobs (delivery-slots.ts), but a retry's `startAfter` passes silently: they poll at half
  // the shortest delay (at most 2 s).
  const pollSeconds = Math.max(0.5, Math.min(10, Math.min(...c.retryDelaysSeconds) / 2));
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema: BOSS_SCHEMA,
    max: 4,
    application_name: 'incoming-webhooks',
    // Our own wake-ups (the dispatcher's passes follow the outbox NOTIFY on every instance) replace pg-boss's.
    useListenNotify: false,
    schedule: false,
    superviseIntervalSeconds: superviseSeconds,
    monitorIntervalSeconds: superviseSeconds,
  });
  boss.on('error', (err) => wlog.warn({ err }, 'pg-boss error'));
  await boss.start();
  // pg-boss's own retries only cover crashes and unexpected errors; HTTP failures follow our schedule (new jobs).
  const queueOptions = { expireInSeconds, retryLimit: 10, retryDelay: 5, retryBackoff: true, retryDelayMax: 600, deleteAfterSeconds: 86_400, notify: false };
  await boss.createQueue(DELIVER_QUEUE, queueOptions);
  await boss.updateQueue(DELIVER_QUEUE, queueOptions);

  const pool = guardPool(new pg.Pool({ connectionString: databaseUrl, max: 4, application_name: 'incoming-webhooks' }), wlog, 'webhooks');
  const worker = new DeliveryWorker({
    pool, boss, webhooks, sender, log: wlog,
    policy: { retryDelaysSeconds: c.retryDelaysSeconds, maxConsecutiveFailures: c.maxConsecutiveFailures },
  });
  const slots = new DeliverySlots(
    { boss, log: wlog, attempt: (job) => worker.handle(job) },
    { concurrency: c.concurrency, perWebhook: c.perWebhookConcurrency, pollMs: Math.min(2, pollSeconds) * 1000 },
  );
  // Every pass (each events NOTIFY, on every instance) may have queued jobs, here or elsewhere: the slots look.
  const dispatcher = new WebhookDispatcher({ orm, pool, boss, databaseUrl, pollMs: c.pollIntervalMs, log: wlog, onPass: () => slots.wake() });
  // Deliveries whose job pg-boss gave up or lost are looked for every 12 dispatcher polls (a minute by default).
  const sweep = new OrphanedDeliverySweep({ pool, boss, log: wlog, onResumed: () => slots.wake() }, c.pollIntervalMs * 12);
  slots.start();
  await dispatcher.start();
  sweep.start();
  return {
    dispatcher,
    redeliver: async (id) => {
      await worker.redeliver(id);
      slots.wake();
    },
    close: async () => {
      await dispatcher.close();
      await sweep.close();
      await slots.close(Math.min(c.timeoutMs + 2000, config.shutdownTimeoutMs));
      await boss.stop({ graceful: true, timeout: Math.min(c.timeoutMs + 2000, config.shutdownTimeoutMs) }).catch((err: unknown) => wlog.warn({ err }, 'pg-boss stop failed'));
      await pool.end().catch(() => undefined);
    },
  };
}
