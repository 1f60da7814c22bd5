/**
 * Runs parseMessage on worker threads: mailparser is CPU-bound, so parsing on other cores keeps the sync's event loop
 * (IMAP sessions, DB writes, HTTP) responsive and uses the machine.
 *
 * - Back-pressure: at most `size` messages are inside workers; further `parse()` calls wait in a FIFO until a worker
 *   is free, so a caller that awaits parse() is paced by the parsers.
 * - Workers start lazily (a server with sync disabled never pays for them) and do not keep the process alive while
 *   idle (unref'd).
 * - The raw buffer is transferred, not copied, when it owns its whole ArrayBuffer; otherwise its bytes are copied once
 *   into a fresh buffer that is then transferred (cloning a view would copy the entire underlying ArrayBuffer).
 * - Poison messages: a worker that crashes (uncaught error, OOM under `maxMemoryMb`) or exceeds `timeoutMs` is
 *   terminated and replaced, and its message resolves with a `parseError` on top of the headers-only result the worker
 *   reported after storing the raw source — it never hangs and is never retried forever. If the worker died before
 *   even storing the raw source (boot failure, blob store I/O error), parse() rejects: that is an infrastructure
 *   fault, and the message must be fetched again rather than stored without its source.
 */
import { Worker } from 'node:worker_threads';
import type { ParsedMessage } from './parse-message.js';
import type { ParseRequest, ParseWorkerData } from './parse-worker.js';

export interface ParserPoolOptions {
  /** Worker threads (≥ 1). */
  size: number;
  blobRoot: string;
  /** See ParseOptions.maxBytes. */
  maxBytes: number;
  /** Per-message limit (default 60 s); the clock starts when a worker takes the message. */
  timeoutMs?: number;
  /** V8 heap limit per worker (default 1024 MiB, at least 8): a message that needs more kills its worker, not us. */
  maxMemoryMb?: number;
}

type WorkerReply =
  | { type: 'ready' }
  | { type: 'headers' | 'done'; id: number; message: ParsedMessage }
  | { type: 'failed'; id: number; error: string };

interface Task {
  id: number;
  raw: Buffer | null;
  resolve: (m: ParsedMessage) => void;
  reject: (err: Error) => void;
  headersOnly: ParsedMessage | null;
  timer: NodeJS.Timeout | null;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  task: Task | null;
  lastError: string | null;
}

const WORKER_URL = new URL('./parse-worker.mjs', import.meta.url);
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_MEMORY_MB = 1024;
const MIN_MEMORY_MB = 8;

/** Structured clone keeps Dates, but be explicit: callers rely on `date` being a Date. */
function revive(m: ParsedMessage): ParsedMessage {
  return { ...m, date: m.date === null ? null : new Date(m.date) };
}

/** A view the worker can own: the caller's memory when the Buffer owns all of it, else a one-time copy. */
function transferable(raw: Buffer): Uint8Array<ArrayBuffer> {
  const owns = raw.buffer instanceof ArrayBuffer && raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength;
  return owns ? new Uint8Array(raw.buffer as ArrayBuffer) : new Uint8Array(raw);
}

export class ParserPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Task[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: ParserPoolOptions) {}

  /**
   * Parses one message on a worker (waits while all workers are busy). `raw` is transferred to the worker when it
   * owns its memory: the caller must not use it (or another view of the same memory) afterwards.
   */
  parse(raw: Buffer): Promise<ParsedMessage> {
    if (this.closed) return Promise.reject(new Error('parser pool is closed'));
    const done = new Promise<ParsedMessage>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, raw, resolve, reject, headersOnly: null, timer: null });
    });
    const tracked = done.catch(() => undefined).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    this.dispatch();
    return done;
  }

  /** Stops accepting work, fails queued messages, lets running ones finish (bounded by the timeout), stops workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new Error('parser pool is closed'));
    await Promise.all([...this.inFlight]);
    await Promise.all([...this.slots].map((s) => s.worker.terminate()));
    this.slots.clear();
  }

  /** Hands queued messages to idle workers and starts as many workers as still-waiting messages need. */
  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) break;
      if (slot.ready && slot.task === null) this.run(slot, this.queue.shift()!);
    }
    if (this.closed) return;
    const booting = [...this.slots].filter((s) => !s.ready).length;
    let needed = Math.min(this.queue.length - booting, Math.max(1, this.opts.size) - this.slots.size);
    while (needed-- > 0) this.spawn();
  }

  private run(slot: Slot, task: Task): void {
    slot.task = task;
    slot.worker.ref();
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    task.timer = setTimeout(() => this.kill(slot, `parse timed out after ${timeoutMs} ms`), timeoutMs);
    const raw = transferable(task.raw!);
    task.raw = null;
    try {
      slot.worker.postMessage({ id: task.id, raw } satisfies ParseRequest, [raw.buffer]);
    } catch {
      // Some ArrayBuffers are marked untransferable by Node; structured clone copies this exact-size view instead.
      slot.worker.postMessage({ id: task.id, raw } satisfies ParseRequest);
    }
  }

  private spawn(): void {
    const workerData: ParseWorkerData = { blobRoot: this.opts.blobRoot, maxBytes: this.opts.maxBytes };
    const worker = new Worker(WORKER_URL, {
      workerData,
      // Below a few MiB V8 cannot even deserialize the isolate snapshot and aborts the whole *process*, not the worker.
      resourceLimits: { maxOldGenerationSizeMb: Math.max(MIN_MEMORY_MB, this.opts.maxMemoryMb ?? DEFAULT_MAX_MEMORY_MB) },
    });
    const slot: Slot = { worker, ready: false, task: null, lastError: null };
    this.slots.add(slot);
    worker.on('message', (reply: WorkerReply) => this.onReply(slot, reply));
    worker.on('error', (err: Error) => {
      slot.lastError = (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'parser worker ran out of memory' : `parser worker crashed: ${err.message}`;
    });
    worker.on('exit', (code) => this.onExit(slot, code));
  }

  private onReply(slot: Slot, reply: WorkerReply): void {
    if (reply.type === 'ready') {
      slot.ready = true;
      this.dispatch();
      // Workers are only spawned for waiting messages, so they stay ref'd while booting; an idle one must not keep
      // the process alive.
      if (slot.task === null) slot.worker.unref();
      return;
    }
    const task = slot.task;
    if (!task || task.id !== reply.id) return;
    if (reply.type === 'headers') {
      task.headersOnly = reply.message;
      return;
    }
    this.release(slot);
    if (reply.type === 'failed') task.reject(new Error(`blob store failed while parsing: ${reply.error}`));
    else task.resolve(revive(reply.message));
    this.dispatch();
  }

  /** The worker's task is finished (or abandoned): the slot takes the next one. */
  private release(slot: Slot): Task | null {
    const task = slot.task;
    if (task?.timer) clearTimeout(task.timer);
    slot.task = null;
    slot.worker.unref();
    return task;
  }

  /** Timeout: give up on the worker now (terminate is asynchronous), settle its message, start a replacement. */
  private kill(slot: Slot, reason: string): void {
    this.slots.delete(slot);
    const task = this.release(slot);
    if (task) this.settleLost(task, reason);
    void slot.worker.terminate();
    this.dispatch();
  }

  private onExit(slot: Slot, code: number): void {
    if (!this.slots.delete(slot)) return; // already handled by kill() or close()
    const reason = slot.lastError ?? `parser worker exited with code ${code}`;
    const task = this.release(slot);
    if (task) this.settleLost(task, reason);
    else if (!slot.ready) {
      // Died while booting: fail one waiting message so a worker that can never start cannot respawn forever.
      this.queue.shift()?.reject(new Error(`${reason} (the worker failed to start)`));
    }
    this.dispatch();
  }

  /** A message whose worker died: a parseError on the stored headers-only result, or a rejection if never stored. */
  private settleLost(task: Task, reason: string): void {
    if (task.headersOnly) task.resolve(revive({ ...task.headersOnly, parseError: reason }));
    else task.reject(new Error(`${reason} (before the message was stored)`));
  }
}
