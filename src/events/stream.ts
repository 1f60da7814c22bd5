/**
 * Per-process fan-out of the outbox: one LISTEN connection and one reader per process. A NOTIFY on EVENTS_CHANNEL (or
 * a periodic safety poll, so a lost notification only delays) makes the reader fetch the rows after its cursor once
 * and hand each to every local subscriber whose filter matches. Subscribers have bounded buffers: one that falls
 * `bufferSize` events behind (a slow WebSocket client) is ended with an overflow marker instead of growing memory.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../shared/logger.js';
import { lastEventSeq, readEvents, type StoredEvent } from './reader.js';
import { EventsWakeLoop } from './wake-loop.js';

/** What a subscriber receives after it fell too far behind; the iterator ends right after it. */
export const OVERFLOW = Symbol('event subscriber overflow');
export type StreamItem = StoredEvent | typeof OVERFLOW;

export interface EventStreamOptions {
  url: string;
  orm: MikroORM;
  log: Logger;
  /** Safety poll interval (ms). */
  pollMs?: number;
  /** Events one subscriber may have queued before it is dropped. */
  bufferSize?: number;
  /** Rows fetched per query. */
  pageSize?: number;
}

/** A live subscription: an async iterator of the matching events with seq above `fromSeq`. */
export interface LiveSubscription extends AsyncIterableIterator<StreamItem> {
  /** The stream's cursor when the subscription started: every later event is delivered live. */
  readonly fromSeq: string;
  return(): Promise<IteratorResult<StreamItem>>;
}

type Filter = (e: StoredEvent) => boolean;

class Subscriber implements LiveSubscription {
  private readonly queue: StreamItem[] = [];
  private pending: ((r: IteratorResult<StreamItem>) => void) | null = null;
  done = false;

  constructor(
    readonly fromSeq: string,
    readonly filter: Filter,
    private readonly limit: number,
    private readonly onEnd: (s: Subscriber) => void,
  ) {}

  push(item: StreamItem): void {
    if (this.done) return;
    if (this.pending) {
      const resolve = this.pending;
      this.pending = null;
      resolve({ value: item, done: false });
    } else if (this.queue.length >= this.limit) {
      // Too slow: drop what is queued, tell the consumer once, and stop receiving.
      this.queue.length = 0;
      this.queue.push(OVERFLOW);
      this.detach();
    } else this.queue.push(item);
  }

  /** Ends after the queued items are consumed. */
  end(): void {
    this.detach();
    if (this.pending && this.queue.length === 0) this.finish();
  }

  private detach(): void {
    if (this.done) return;
    this.done = true;
    this.onEnd(this);
  }

  private finish(): IteratorResult<StreamItem> {
    this.detach();
    this.queue.length = 0;
    const resolve = this.pending;
    this.pending = null;
    resolve?.({ value: undefined, done: true });
    return { value: undefined, done: true };
  }

  next(): Promise<IteratorResult<StreamItem>> {
    if (this.queue.length > 0) return Promise.resolve({ value: this.queue.shift()!, done: false });
    if (this.done) return Promise.resolve(this.finish());
    return new Promise((resolve) => (this.pending = resolve));
  }

  return(): Promise<IteratorResult<StreamItem>> {
    return Promise.resolve(this.finish());
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

export class EventStream {
  private readonly subs = new Set<Subscriber>();
  private cursor = '0';
  private readonly bufferSize: number;
  private readonly pageSize: number;
  private readonly loop: EventsWakeLoop;

  constructor(private readonly opts: EventStreamOptions) {
    this.bufferSize = opts.bufferSize ?? 1000;
    this.pageSize = opts.pageSize ?? 500;
    this.loop = new EventsWakeLoop({ url: opts.url, pollMs: opts.pollMs ?? 2000, log: opts.log, name: 'event stream read', pass: () => this.readNew() });
  }

  private get closed(): boolean {
    return this.loop.isClosed;
  }

  /** Starts at the newest stored event (subscribers that want history replay it themselves) and listens. */
  async start(): Promise<void> {
    this.cursor = await lastEventSeq(this.opts.orm.em.fork());
    await this.loop.start();
  }

  /** Number of local subscribers (tests, metrics). */
  get size(): number {
    return this.subs.size;
  }

  /** Live events matching `filter`, from now on. */
  subscribe(filter: Filter = () => true): LiveSubscription {
    const sub = new Subscriber(this.cursor, filter, this.bufferSize, (s) => this.subs.delete(s));
    if (this.closed) sub.end();
    else this.subs.add(sub);
    return sub;
  }

  /** Reads new rows now (also called on NOTIFY and by the poll). Concurrent wake-ups coalesce into one more read. */
  wake(): void {
    this.loop.wake();
  }

  private async readNew(): Promise<void> {
    if (this.subs.size === 0) {
      // Nobody to deliver to (e.g. a bulk sync with no dashboard open): skip the rows instead of reading them.
      const last = await lastEventSeq(this.opts.orm.em.fork());
      if (this.subs.size === 0) {
        if (BigInt(last) > BigInt(this.cursor)) this.cursor = last;
        return;
      }
    }
    for (;;) {
      const page = await readEvents(this.opts.orm.em.fork(), { afterSeq: this.cursor, limit: this.pageSize });
      for (const e of page) {
        this.cursor = e.seq;
        for (const s of this.subs) if (s.filter(e)) s.push(e);
      }
      if (page.length < this.pageSize || this.closed) return;
    }
  }

  async close(): Promise<void> {
    for (const s of [...this.subs]) s.end();
    await this.loop.close();
  }
}
