/**
 * Runs parseMessage on worker threads: mailparser is CPU-bound, so parsing on other cores keeps the sync's event loop
 * (IMAP sessions, DB writes, HTTP) responsive and uses the machine.
 *
 * - Back-pressure: at most `size × perWorker` messages are inside workers; further `parse()` calls wait in a FIFO
 *   until a worker has room, so a caller that awaits parse() is paced by the parsers. A worker takes two messages at
 *   once by default because parsing is not pure CPU: large sources and every attachment are written (and fsynced) to
 *   the blob store, and a worker that waited on each write alone sat idle. (It was 4 while every raw source was a
 *   file; with small sources kept inline, 2 measured the same throughput with less memory in flight.)
 * - Workers start lazily (a server with sync disabled never pays for them) and do not keep the process alive while
 *   idle (unref'd).
 * - The worker gets a copy of exactly the message's bytes, transferred (not cloned): the copy's memory moves to the
 *   worker and is freed there, instead of waiting in this thread for a full GC. The pool keeps the source until the
 *   worker reports it stored (an inline source, which the worker never stores, is kept to the end): a worker that a
 *   neighbour's message crashes before that point must not cost this message anything, so it is parsed again from the
 *   kept source.
 * - The worker's heap is what `resourceLimits` say, whatever V8 flags the process runs with (see clearHeapFlags).
 * - Poison messages: a worker that crashes (uncaught error, OOM under `maxMemoryMb`) or exceeds `timeoutMs` is
 *   terminated and replaced. The message that timed out resolves with a `parseError` on top of the headers-only
 *   result the worker reported after storing the raw source. The other messages that worker held are innocent (after a
 *   timeout) or suspects (after a crash, the culprit is unknown): each is parsed again from its kept or stored source, a
 *   suspect alone on a worker, so only the message that crashes a worker by itself gets the `parseError` — nothing
 *   hangs and nothing is retried forever. A message whose retry also dies before its raw source is stored (a worker
 *   that cannot boot, blob store I/O errors) rejects: an infrastructure fault, the message must be fetched again.
 */
import { readFile } from 'node:fs/promises';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import { BlobStore } from '../../storage/blob-store.js';
import type { ParsedMessage } from './parse-message.js';
import type { ParseRequest, ParseWorkerData } from './parse-worker.js';

export interface ParserPoolOptions {
  /** Worker threads (≥ 1). */
  size: number;
  /** Messages one worker parses concurrently (default 2, ≥ 1). */
  perWorker?: number;
  blobRoot: string;
  /** See ParseOptions.maxBytes. */
  maxBytes: number;
  /** See ParseOptions.inlineMaxBytes. */
  inlineMaxBytes?: number;
  /** Per-message limit (default 60 s); the clock starts when a worker takes the message. */
  timeoutMs?: number;
  /** V8 heap limit per worker (default 1024 MiB, at least 8): a message that needs more kills its worker, not us. */
  maxMemoryMb?: number;
}

type WorkerReply =
  | { type: 'ready' }
  | { type: 'headers' | 'done'; id: number; message: ParsedMessage }
  | { type: 'failed'; id: number; error: string; code?: unknown };

interface Task {
  id: number;
  raw: Buffer | null;
  resolve: (m: ParsedMessage) => void;
  reject: (err: Error) => void;
  headersOnly: ParsedMessage | null;
  timer: NodeJS.Timeout | null;
  /** Times this message was in a worker that died under it. */
  retries: number;
  /** Parse it on a worker of its own (it was in a worker that crashed). */
  alone: boolean;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  tasks: Map<number, Task>;
  lastError: string | null;
}

/** Compiled (bin/build.js), the worker is plain JavaScript; from TypeScript sources, a bootstrap registers tsx in it first. */
const WORKER_URL = new URL(import.meta.url.endsWith('.js') ? './parse-worker.js' : './parse-worker.mjs', import.meta.url);
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_MEMORY_MB = 1024;
const DEFAULT_PER_WORKER = 2;
const MIN_MEMORY_MB = 8;
/**
 * The worker's young generation. V8's default on a large machine is 3 × 64 MiB; a parser allocates short-lived
 * buffers at a high rate, so a large young generation is mostly garbage held as RSS. 8 MiB cost no throughput in
 * bench:ingest (the worker's CPU per message was unchanged).
 */
const YOUNG_GENERATION_MB = 8;

/**
 * V8's heap-size flags are process-wide and take precedence over a worker's `resourceLimits`: under `serve`, whose
 * launcher gives the main thread `--max-semi-space-size` and `--max-old-space-size` (bin/incoming.js), the parser
 * worker got the main thread's 16 MiB semi-spaces (a 48 MiB young generation instead of 8: ~25 MB more RSS during a
 * sync) and its heap limit instead of `maxMemoryMb`. V8 reads them only when it creates an isolate, so clearing them
 * once the main thread's isolate exists leaves that one as it is and lets each worker have its own limits.
 */
function clearHeapFlags(): void {
  v8.setFlagsFromString('--max-semi-space-size=0');
  v8.setFlagsFromString('--max-old-space-size=0');
}

/** Structured clone keeps Dates, but be explicit: callers rely on `date` being a Date. */
function revive(m: ParsedMessage): ParsedMessage {
  return { ...m, date: m.date === null ? null : new Date(m.date) };
}

export class ParserPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Task[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private nextId = 1;
  private closed = false;
  private readonly store: BlobStore;

  constructor(private readonly opts: ParserPoolOptions) {
    this.store = new BlobStore(opts.blobRoot);
  }

  /** Parses one message on a worker (waits while all workers have their share). `raw` is not modified. */
  parse(raw: Buffer): Promise<ParsedMessage> {
    if (this.closed) return Promise.reject(new Error('parser pool is closed'));
    const done = new Promise<ParsedMessage>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, raw, resolve, reject, headersOnly: null, timer: null, retries: 0, alone: false });
    });
    const tracked = done.catch(() => undefined).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    this.dispatch();
    return done;
  }

  /** V8 heap statistics of each running worker (diagnostics). An idle worker is ref'd while it answers. */
  async heapStatistics(): Promise<v8.HeapInfo[]> {
    const ready = [...this.slots].filter((s) => s.ready);
    return Promise.all(
      ready.map(async (s) => {
        s.worker.ref();
        try {
          return await s.worker.getHeapStatistics();
        } finally {
          if (s.tasks.size === 0) s.worker.unref();
        }
      }),
    );
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

  /** Hands queued messages to workers with room and starts as many workers as still-waiting messages need. */
  private dispatch(): void {
    const perWorker = Math.max(1, this.opts.perWorker ?? DEFAULT_PER_WORKER);
    const room = (slot: Slot, task: Task) =>
      slot.ready && (task.alone ? slot.tasks.size === 0 : slot.tasks.size < perWorker && ![...slot.tasks.values()].some((t) => t.alone));
    for (let i = 0; i < this.queue.length; ) {
      const task = this.queue[i]!;
      const slot = [...this.slots].find((s) => room(s, task));
      if (!slot) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.run(slot, task);
    }
    if (this.closed) return;
    const booting = [...this.slots].filter((s) => !s.ready).length;
    let needed = Math.min(this.queue.length - booting, Math.max(1, this.opts.size) - this.slots.size);
    while (needed-- > 0) this.spawn();
  }

  private run(slot: Slot, task: Task): void {
    slot.tasks.set(task.id, task);
    slot.worker.ref();
    const timeoutMs = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    task.timer = setTimeout(() => this.kill(slot, task, `parse timed out after ${timeoutMs} ms`), timeoutMs);
    const copy = new Uint8Array(task.raw!); // the kept source stays here; its copy moves to the worker
    slot.worker.postMessage({ id: task.id, raw: copy } satisfies ParseRequest, [copy.buffer]);
  }

  private spawn(): void {
    const workerData: ParseWorkerData = { blobRoot: this.opts.blobRoot, maxBytes: this.opts.maxBytes, inlineMaxBytes: this.opts.inlineMaxBytes ?? 0 };
    clearHeapFlags();
    const worker = new Worker(WORKER_URL, {
      workerData,
      // Below a few MiB V8 cannot even deserialize the isolate snapshot and aborts the whole *process*, not the worker.
      resourceLimits: {
        maxOldGenerationSizeMb: Math.max(MIN_MEMORY_MB, this.opts.maxMemoryMb ?? DEFAULT_MAX_MEMORY_MB),
        maxYoungGenerationSizeMb: YOUNG_GENERATION_MB,
      },
    });
    const slot: Slot = { worker, ready: false, tasks: new Map(), lastError: null };
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
      if (slot.tasks.size === 0) slot.worker.unref();
      return;
    }
    const task = slot.tasks.get(reply.id);
    if (!task) return;
    if (reply.type === 'headers') {
      task.headersOnly = reply.message;
      // Stored: a retry reads it back from the blob store. An inline source is in no store yet: keep it.
      if (!reply.message.rawInline) task.raw = null;
      return;
    }
    this.release(slot, task);
    // The error code (ENOSPC, EACCES, …) crosses the thread boundary so that the failure is reported as local storage.
    if (reply.type === 'failed') task.reject(Object.assign(new Error(`blob store failed while parsing: ${reply.error}`), { code: reply.code }));
    else task.resolve(revive(reply.message));
    this.dispatch();
  }

  /** The task is finished (or abandoned) on this worker. */
  private release(slot: Slot, task: Task): void {
    if (task.timer) clearTimeout(task.timer);
    task.timer = null;
    slot.tasks.delete(task.id);
    if (slot.tasks.size === 0) slot.worker.unref();
  }

  /** Timeout: give up on the worker now (terminate is asynchronous), settle the culprit, retry the others. */
  private kill(slot: Slot, culprit: Task, reason: string): void {
    this.slots.delete(slot);
    const others = [...slot.tasks.values()].filter((t) => t !== culprit);
    for (const t of [...slot.tasks.values()]) this.release(slot, t);
    this.settleLost(culprit, reason);
    for (const t of others) this.retry(t, reason, false);
    void slot.worker.terminate();
    this.dispatch();
  }

  private onExit(slot: Slot, code: number): void {
    if (!this.slots.delete(slot)) return; // already handled by kill() or close()
    const reason = slot.lastError ?? `parser worker exited with code ${code}`;
    const tasks = [...slot.tasks.values()];
    for (const t of tasks) this.release(slot, t);
    // A crash names no culprit: a message that crashes a worker while parsed alone is it; the others try alone.
    for (const t of tasks) {
      if (t.alone) this.settleLost(t, reason);
      else this.retry(t, reason, true);
    }
    if (tasks.length === 0 && !slot.ready) {
      // Died while booting: fail one waiting message so a worker that can never start cannot respawn forever.
      this.queue.shift()?.reject(new Error(`${reason} (the worker failed to start)`));
    }
    this.dispatch();
  }

  /**
   * Queues a message again (ahead of new work) with its kept source, or read back from the blob store once stored; or
   * settles it like a lost one when it was retried once already or the pool is closing.
   */
  private retry(task: Task, reason: string, alone: boolean): void {
    const key = task.headersOnly?.rawBlobKey;
    if ((!task.raw && !key) || task.retries > 0 || this.closed) return this.settleLost(task, reason);
    task.retries++;
    task.alone = alone;
    if (task.raw) {
      this.queue.unshift(task); // never reached its worker's blob store: the kept source goes again
      return;
    }
    const pending = readFile(this.store.path(key!)).then(
      (raw) => {
        if (this.closed) return this.settleLost(task, reason);
        task.raw = raw;
        this.queue.unshift(task);
        this.dispatch();
      },
      () => this.settleLost(task, reason),
    );
    const tracked = pending.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** A message whose worker died: a parseError on the stored headers-only result, or a rejection if never stored. */
  private settleLost(task: Task, reason: string): void {
    if (task.headersOnly) task.resolve(revive({ ...task.headersOnly, parseError: reason }));
    else task.reject(new Error(`${reason} (before the message was stored)`));
  }
}
