/**
 * `npm run bench:ingest-parts` — where the ingest CPU goes, one part at a time, in this process (no IMAP, no
 * database): the same generated messages (`BENCH_MESSAGES`, default 2,000) through (a) mailparser alone, (b) our
 * parseMessage with a blob store that only drains its input, (c) parseMessage with the real blob store (hash,
 * write, fsync, rename) for every raw source and attachment, (e) the same with raw sources up to RAW_INLINE_MAX_BYTES
 * kept inline (the server's default: they go to PostgreSQL, not measured here), (d) the ParserPool on worker threads
 * with the real blob store and the server's inline default. CPU seconds per thread kind
 * (main thread, parser workers, libuv pool, V8 GC helpers) are read from /proc; two passes, the second is warm.
 * `BENCH_BASE64_FAST_PATH=0` runs (b), (c) and (e) on the plain path only (no base64 fast path), for A/B runs.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { MailParser } from 'mailparser';
import { BlobStore } from '../src/storage/blob-store.js';
import { parseMessage } from '../src/sync/ingest/parse-message.js';
import { ParserPool } from '../src/sync/ingest/parser-pool.js';
import { generateMailbox } from '../test/fixtures/messages.js';
import { ROOT } from '../test/support/server.js';
import { threadCpuSince, threadSnapshot } from './support.js';

const N = Number(process.env.BENCH_MESSAGES ?? 2000);
const messages = generateMailbox(N, 1);
const MAX_BYTES = 50 * 1024 * 1024;
const INLINE = Number(process.env.RAW_INLINE_MAX_BYTES ?? 256 * 1024);
/** `BENCH_BASE64_FAST_PATH=0`: (b), (c) and (e) on the plain path only (parse-message.ts `base64FastPath`). */
const base64FastPath = process.env.BENCH_BASE64_FAST_PATH !== '0';

function mailparserOnly(raw: Buffer): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const p = new MailParser({ skipImageLinks: true, skipTextLinks: true, checksumAlgo: false });
    p.on('data', (d) => {
      if (d.type === 'text') return;
      d.content.on('data', () => undefined);
      d.content.on('end', () => d.release?.());
    });
    p.on('error', reject);
    p.on('end', resolve);
    Readable.from([raw]).pipe(p);
  });
}

/** Drains what it is given, stores nothing. */
const drainingStore = {
  writeBuffer: async (b: Buffer) => ({ key: '0'.repeat(64), size: b.length }),
  writeStream: async (s: Readable) => {
    let size = 0;
    for await (const c of s) size += (c as Buffer).length;
    return { key: '1'.repeat(64), size };
  },
} as unknown as BlobStore;

async function measure(name: string, run: () => Promise<unknown>): Promise<void> {
  const before = await threadSnapshot(process.pid);
  const t = performance.now();
  await run();
  const ms = performance.now() - t;
  const threads = Object.entries(await threadCpuSince(process.pid, before)).filter(([, s]) => s >= 0.01);
  const total = threads.reduce((a, [, s]) => a + s, 0);
  console.log(`| ${name} | ${(ms / 1000).toFixed(2)} | ${Math.round(N / (ms / 1000))} | ${((total * 1000) / N).toFixed(2)} | ${threads.map(([k, s]) => `${k} ${s.toFixed(2)}`).join(', ')} |`);
}

await mkdir(path.join(ROOT, 'data'), { recursive: true });
const dir = await mkdtemp(path.join(ROOT, 'data', 'bench-parts-'));
console.log(`bench:ingest-parts — ${N} messages, ${os.cpus().length} cores${base64FastPath ? '' : ', base64 fast path off'}\n`);
console.log('| part | seconds | messages/s | CPU ms per message | CPU seconds by thread |\n|---|---:|---:|---:|---|');
try {
  for (let pass = 1; pass <= 2; pass++) {
    const sequential = (f: (m: Buffer) => Promise<unknown>) => async () => {
      for (const m of messages) await f(m);
    };
    const store = new BlobStore(path.join(dir, `store-${pass}`));
    // The server's default pool size (PARSER_WORKERS overrides it, as for the server).
    const pool = new ParserPool({
      size: Number(process.env.PARSER_WORKERS ?? Math.max(1, Math.min(8, os.availableParallelism() - 1))),
      blobRoot: path.join(dir, `pool-${pass}`),
      maxBytes: MAX_BYTES,
      inlineMaxBytes: INLINE,
    });
    const inlineStore = new BlobStore(path.join(dir, `inline-${pass}`));
    await pool.parse(messages[0]!); // workers booted before the clock starts
    await measure(`(a) mailparser alone, pass ${pass}`, sequential(mailparserOnly));
    await measure(`(b) parseMessage, draining store, pass ${pass}`, sequential((m) => parseMessage(m, drainingStore, { maxBytes: MAX_BYTES, base64FastPath })));
    await measure(`(c) parseMessage, blob store, pass ${pass}`, sequential((m) => parseMessage(m, store, { maxBytes: MAX_BYTES, base64FastPath })));
    await measure(`(e) parseMessage, blob store, sources ≤ ${INLINE / 1024} KiB inline, pass ${pass}`, sequential((m) => parseMessage(m, inlineStore, { maxBytes: MAX_BYTES, inlineMaxBytes: INLINE, base64FastPath })));
    await measure(`(d) ParserPool, blob store, sources inline, pass ${pass}`, () => Promise.all(messages.map((m) => pool.parse(m))));
    await pool.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
