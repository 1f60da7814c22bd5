/**
 * The delivery attempts one instance runs at once: WEBHOOK_CONCURRENCY slots, fed by one fetch loop.
 *
 * - Each job runs on its own and is settled on its own: a slot never waits for another attempt. (pg-boss workers
 *   that took a batch waited for its slowest attempt, so one slow receiver held up every other webhook.)
 * - Every job of a webhook is in its webhook's pg-boss group (dispatcher.ts), and a fetch takes at most
 *   WEBHOOK_CONCURRENCY_PER_WEBHOOK active jobs of a group: a receiver that hangs with a backlog holds that many
 *   slots and the other webhooks keep the rest. pg-boss counts a group's active jobs in the fetch's own snapshot, so
 *   fetches running at once can each take the group's last places: one fetch at a time per instance (this loop)
 *   keeps the limit exact on one instance; across instances it can be exceeded by as much as they fetch together.
 * - The loop fetches for the free slots whenever a slot frees or `wake()` says jobs may be ready (the dispatcher
 *   after each pass, a redelivery), and otherwise every `pollMs` (retries come due silently).
 * - A job whose attempt outlives `close()` stays active in pg-boss and expires; it runs again (at-least-once: the
 *   delivery row's attempt guard makes a duplicate run of a recorded attempt do nothing).
 */
import type { Job, PgBoss } from 'pg-boss';
import type { Logger } from '../shared/logger.js';
import { DELIVER_QUEUE, type DeliverJob } from './dispatcher.js';

export interface DeliverySlotsOptions {
  concurrency: number;
  perWebhook: number;
  pollMs: number;
}

export class DeliverySlots {
  private readonly running = new Set<Promise<void>>();
  private woken = false;
  private wakeUp: (() => void) | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly deps: { boss: PgBoss; log: Logger; attempt: (job: DeliverJob) => Promise<void> },
    private readonly opts: DeliverySlotsOptions,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Jobs may be ready: fetch now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Stops fetching and waits up to `timeoutMs` for the attempts in flight. */
  async close(timeoutMs: number): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.running]),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.woken = false;
      const free = this.opts.concurrency - this.running.size;
      if (free > 0) {
        try {
          const jobs = await this.deps.boss.fetch<DeliverJob>(DELIVER_QUEUE, { batchSize: free, groupConcurrency: this.opts.perWebhook });
          for (const job of jobs) this.spawn(job);
        } catch (err) {
          this.deps.log.warn({ err }, 'fetching webhook delivery jobs failed; retrying at the next poll');
        }
      }
      // A slot that freed or a wake during the fetch means another look now; else wait for one, or the poll.
      if (this.woken || this.stopped) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.pollMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
    }
  }

  private spawn(job: Job<DeliverJob>): void {
    const done = this.settle(job).finally(() => {
      this.running.delete(done);
      this.wake();
    });
    this.running.add(done);
  }

  /** Runs one attempt and settles its job; an attempt that throws is failed, and pg-boss retries the job. */
  private async settle(job: Job<DeliverJob>): Promise<void> {
    try {
      await this.deps.attempt(job.data);
      await this.deps.boss.complete(DELIVER_QUEUE, job.id);
    } catch (err) {
      this.deps.log.warn({ err, job: job.data }, 'webhook delivery job failed; pg-boss retries it');
      await this.deps.boss.fail(DELIVER_QUEUE, job.id, { message: (err as Error).message }).catch((failErr: unknown) => {
        this.deps.log.warn({ err: failErr, job: job.data }, 'could not fail a webhook delivery job; it expires and runs again');
      });
    }
  }
}
