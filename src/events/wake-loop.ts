/**
 * What every reader of the outbox needs to notice new events on any instance: LISTEN on EVENTS_CHANNEL (reconnecting
 * when the connection drops), a periodic poll so that a lost notification only delays, and coalescing — a wake-up
 * during a pass runs exactly one more pass after it, never two at once. Used by the subscription stream and the
 * webhook dispatcher.
 */
import pg from 'pg';
import type { Logger } from '../shared/logger.js';
import { EVENTS_CHANNEL } from './outbox.js';

export interface WakeLoopOptions {
  url: string;
  pollMs: number;
  log: Logger;
  /** Names the loop in logs. */
  name: string;
  /** One pass over new events; errors are logged and the next wake-up retries. */
  pass: () => Promise<void>;
}

export class EventsWakeLoop {
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private client: pg.Client | null = null;

  constructor(private readonly opts: WakeLoopOptions) {}

  async start(): Promise<void> {
    await this.listen();
    this.timer = setInterval(() => this.wake(), this.opts.pollMs);
    this.timer.unref();
  }

  /** Runs a pass now, or once more right after the one in progress. */
  wake(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.opts.pass();
        } catch (err) {
          this.opts.log.warn({ err }, `${this.opts.name} failed; retrying at the next wake-up`);
        }
      } while (this.again && !this.closed);
    })().finally(() => (this.running = null));
  }

  /** Waits for the pass in progress (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.idle();
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.url });
    client.on('notification', () => this.wake());
    client.on('error', (err) => {
      if (this.closed) return;
      this.opts.log.warn({ err }, `${this.opts.name}: LISTEN connection lost; reconnecting`);
      this.client = null;
      void client.end().catch(() => undefined);
      setTimeout(() => void this.relisten(), 1000).unref();
    });
    await client.connect();
    if (this.closed) {
      await client.end();
      return;
    }
    await client.query(`LISTEN "${EVENTS_CHANNEL}"`);
    this.client = client;
  }

  private async relisten(): Promise<void> {
    if (this.closed) return;
    try {
      await this.listen();
      this.wake(); // whatever was notified while disconnected
    } catch (err) {
      this.opts.log.warn({ err }, `${this.opts.name}: reconnect failed`);
      setTimeout(() => void this.relisten(), 2000).unref();
    }
  }
}
