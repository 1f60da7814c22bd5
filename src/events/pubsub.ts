/**
 * Ephemeral cross-instance messages (e.g. sync progress) over PostgreSQL LISTEN/NOTIFY: one listening connection per
 * process fans notifications out to local subscribers as async iterables. Durable events go through the outbox instead.
 */
import pg from 'pg';
import { guardPool } from '../db/pg-guard.js';
import type { Logger } from '../shared/logger.js';

type Listener = (payload: unknown) => void;

/**
 * Messages one iterator keeps while its consumer does not take them (a WebSocket client that stopped reading holds
 * its `syncProgress` subscription still): past this, the oldest are dropped. Messages here are ephemeral — progress
 * that newer progress supersedes, wake-ups — so the newest matter.
 */
export const PUBSUB_MAX_QUEUED = 100;

export class PgPubSub {
  private listener: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private readonly subs = new Map<string, Set<Listener>>();
  /** Channels LISTENed to (or being): a failed LISTEN is forgotten, so the next subscriber tries again. */
  private readonly listening = new Map<string, Promise<void>>();
  private readonly pool: pg.Pool;
  private closed = false;

  constructor(private readonly url: string, private readonly log: Logger) {
    this.pool = guardPool(new pg.Pool({ connectionString: url, max: 2 }), log, 'pubsub');
  }

  /** Publishes to every process listening on `channel` (delivered at commit when called inside a transaction elsewhere). */
  async publish(channel: string, payload: unknown): Promise<void> {
    await this.pool.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify(payload)]);
  }

  /**
   * Messages on `channel` matching `filter`. A hand-written iterator (not a generator) so that `return()` — a client
   * unsubscribing — releases the listener at once instead of after the next message.
   */
  iterate<T>(channel: string, filter: (p: T) => boolean = () => true): AsyncIterableIterator<T> {
    const queue: T[] = [];
    let pending: ((r: IteratorResult<T>) => void) | null = null;
    let done = false;
    const fn: Listener = (p) => {
      if (done || !filter(p as T)) return;
      if (pending) {
        const resolve = pending;
        pending = null;
        resolve({ value: p as T, done: false });
      } else {
        if (queue.length >= PUBSUB_MAX_QUEUED) queue.shift();
        queue.push(p as T);
      }
    };
    const ready = this.addListener(channel, fn);
    ready.catch(() => undefined); // reported by next(); an iterator ended before it is not an unhandled rejection
    const finish = (): IteratorResult<T> => {
      done = true;
      this.subs.get(channel)?.delete(fn);
      pending?.({ value: undefined, done: true });
      pending = null;
      return { value: undefined, done: true };
    };
    return {
      next: async () => {
        await ready;
        if (queue.length > 0) return { value: queue.shift()!, done: false };
        if (done || this.closed) return finish();
        return new Promise<IteratorResult<T>>((resolve) => (pending = resolve));
      },
      return: async () => finish(),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** Calls `fn` with every message on `channel`; resolves once listening, with a function that stops. */
  async on(channel: string, fn: (payload: unknown) => void): Promise<() => void> {
    await this.addListener(channel, fn);
    return () => void this.subs.get(channel)?.delete(fn);
  }

  /**
   * Adds `fn` at once (so that a `return()` before the LISTEN completes removes it) and resolves once the channel is
   * listened to. If the LISTEN fails (the connection cannot be opened: PostgreSQL restarting, or out of connection
   * slots under load), `fn` is removed and the channel forgotten: the next subscriber tries again, instead of every
   * later one waiting on that failure, or on a channel nobody listens to, until the process restarts.
   */
  private async addListener(channel: string, fn: Listener): Promise<void> {
    let set = this.subs.get(channel);
    if (!set) this.subs.set(channel, (set = new Set()));
    set.add(fn);
    let listening = this.listening.get(channel);
    if (!listening) {
      const started = (async () => {
        await this.ensureConnected();
        await this.listener!.query(`LISTEN "${channel.replace(/"/g, '')}"`);
      })();
      listening = started;
      this.listening.set(channel, started);
      started.catch(() => this.listening.get(channel) === started && this.listening.delete(channel));
    }
    try {
      await listening;
    } catch (err) {
      set.delete(fn);
      throw err;
    }
  }

  private async ensureConnected(): Promise<void> {
    if (this.listener) return;
    const connecting = (this.connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.url });
      client.on('notification', (n) => {
        let payload: unknown = n.payload;
        try {
          payload = n.payload ? JSON.parse(n.payload) : null;
        } catch {
          /* plain text payload */
        }
        for (const fn of this.subs.get(n.channel) ?? []) fn(payload);
      });
      client.on('error', (err) => {
        this.log.warn({ err }, 'pubsub listener connection lost; reconnecting');
        this.listener = null;
        this.connecting = null;
        if (!this.closed) void this.relisten();
      });
      await client.connect();
      this.listener = client;
    })());
    try {
      await connecting;
    } catch (err) {
      if (this.connecting === connecting) this.connecting = null;
      throw err;
    }
  }

  private async relisten(): Promise<void> {
    await new Promise((r) => setTimeout(r, 1000));
    try {
      await this.ensureConnected();
      for (const channel of this.subs.keys()) await this.listener!.query(`LISTEN "${channel.replace(/"/g, '')}"`);
    } catch (err) {
      this.log.warn({ err }, 'pubsub reconnect failed');
      this.listener = null;
      this.connecting = null;
      if (!this.closed) void this.relisten();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}
