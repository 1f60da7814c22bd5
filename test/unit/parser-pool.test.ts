import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore } from '../../src/storage/blob-store.js';
import { parseMessage, type ParsedMessage } from '../../src/sync/ingest/parse-message.js';
import { ParserPool, type ParserPoolOptions } from '../../src/sync/ingest/parser-pool.js';
import * as F from '../fixtures/messages.js';

const execFileP = promisify(execFile);
let dir: string;
let blobRoot: string;
const pools: ParserPool[] = [];
const newPool = (opts: Partial<ParserPoolOptions> = {}): ParserPool => {
  const pool = new ParserPool({ size: 2, blobRoot, maxBytes: 10 * 1024 * 1024, ...opts });
  pools.push(pool);
  return pool;
};

/** HTML-only mail whose html-to-text conversion is slow (superlinear in inline elements) and memory-hungry. */
const htmlBomb = (elements = 120_000): Buffer =>
  F.message({ headers: ['Content-Type: text/html; charset=utf-8'], body: Buffer.from(`<html><body>${'<i>a</i>'.repeat(elements)}</body></html>`) }, { Subject: 'HTML bomb' });

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'parser-pool-'));
  blobRoot = path.join(dir, 'blobs');
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('ParserPool', () => {
  it('parses messages in parallel on workers with the same result as in-process parsing', async () => {
    const pool = newPool({ size: 2 });
    const fixtures = [F.plainText(), F.htmlAlternative(), F.withAttachments([5000, 300_000]), F.inlineImage(), F.tooManyParts(), ...F.CHARSET_SAMPLES.map((s) => F.charsetMessage(s))];
    const expected = await Promise.all(fixtures.map((raw) => parseMessage(raw, new BlobStore(blobRoot), { maxBytes: 10 * 1024 * 1024 })));
    const results = await Promise.all(fixtures.map((raw) => pool.parse(Buffer.from(raw))));
    expect(results).toEqual(expected);
    for (const m of results) if (m.date !== null) expect(m.date).toBeInstanceOf(Date);
    const att = results[2]!.attachments[1]!;
    expect((await readFile(new BlobStore(blobRoot).path(att.blobKey))).equals(F.bytes(300_000, 2))).toBe(true);
  });

  it('parses a realistic mailbox (120 messages, attachments up to 2 MB) on 2 workers exactly as in-process', async () => {
    const pool = newPool({ size: 2 });
    const box = F.generateMailbox(120, 5);
    const store = new BlobStore(blobRoot);
    const expected: ParsedMessage[] = [];
    for (const raw of box) expected.push(await parseMessage(raw, store, { maxBytes: 10 * 1024 * 1024 }));
    const results = await Promise.all(box.map((raw) => pool.parse(Buffer.from(raw))));
    expect(results).toEqual(expected);
    expect(results.every((m) => m.parseError === null)).toBe(true);
    expect(results.filter((m) => m.attachments.length > 0).length).toBeGreaterThan(5);
    expect(results.filter((m) => m.inReplyTo !== null).length).toBeGreaterThan(10);
  });

  it('queues beyond its size and answers in order (back-pressure)', async () => {
    const pool = newPool({ size: 1, perWorker: 1 });
    const order: number[] = [];
    const raws = Array.from({ length: 6 }, (_, i) => F.plainText(`message ${i}\n`, { Subject: `n${i}` }));
    const results = await Promise.all(raws.map((raw, i) => pool.parse(raw).then((m) => (order.push(i), m))));
    expect(results.map((m) => m.subject)).toEqual(['n0', 'n1', 'n2', 'n3', 'n4', 'n5']);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('leaves the caller buffer intact, whether it owns its memory or is a view into a larger one', async () => {
    const pool = newPool({ size: 1 });
    const source = F.withAttachments([10_000]);
    const owned = Buffer.alloc(source.length); // never from Node's shared allocation pool
    source.copy(owned);
    expect(owned.byteOffset === 0 && owned.byteLength === owned.buffer.byteLength).toBe(true);
    expect((await pool.parse(owned)).attachments).toHaveLength(1);
    expect(owned.equals(source)).toBe(true); // kept (not transferred): the pool may need it for a retry

    const backing = Buffer.concat([Buffer.alloc(100), F.plainText(), Buffer.alloc(100)]);
    const view = backing.subarray(100, backing.length - 100);
    const before = Buffer.from(view);
    const m = await pool.parse(view);
    expect(m.subject).toBe('Test message');
    expect(view.equals(before)).toBe(true); // the caller's memory is untouched
  });

  it('gives the worker its own heap limits even when the process runs with V8 heap-size flags (as `serve` does)', async () => {
    // V8's flags are process-wide and take precedence over a worker's resourceLimits: the worker had the main thread's
    // 16 MiB semi-spaces (a 48 MiB young generation instead of 8) and its old-generation limit instead of maxMemoryMb.
    const script = `
      const v8 = await import('node:v8');
      const { ParserPool } = await import(${JSON.stringify(new URL('../../src/sync/ingest/parser-pool.ts', import.meta.url).href)});
      const pool = new ParserPool({ size: 1, blobRoot: ${JSON.stringify(blobRoot)}, maxBytes: 1 << 20, maxMemoryMb: 64 });
      await pool.parse(Buffer.from('Subject: limits\\r\\n\\r\\nbody\\r\\n'));
      const [worker] = await pool.heapStatistics();
      console.log(JSON.stringify({ worker: worker.heap_size_limit, main: v8.getHeapStatistics().heap_size_limit }));
      await pool.close();`;
    const file = path.join(dir, 'heap-limits.mjs');
    await writeFile(file, script);
    const { stdout } = await execFileP(process.execPath, ['--max-semi-space-size=16', '--max-old-space-size=512', '--import', 'tsx', file]);
    const limits = JSON.parse(stdout) as { worker: number; main: number };
    const MiB = 1024 * 1024;
    // 64 MiB old generation + 8 MiB young generation (V8 rounds it up to whole pages); with the flags it was 512 + 48.
    expect(limits.worker / MiB).toBeGreaterThanOrEqual(64 + 8);
    expect(limits.worker / MiB).toBeLessThan(64 + 16);
    // The main thread keeps the flags' sizes.
    expect(limits.main / MiB).toBe(512 + 3 * 16);
  }, 30_000);

  it('a message that exceeds the timeout: worker replaced, headers-only result with parseError', async () => {
    const pool = newPool({ size: 1, timeoutMs: 250 });
    const raw = htmlBomb();
    const key = F.sha256(raw);
    const started = performance.now();
    const m = await pool.parse(raw);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(m).toMatchObject({ subject: 'HTML bomb', parseError: 'parse timed out after 250 ms', rawBlobKey: key, bodyHtml: null, attachments: [] });
    expect(m.date).toBeInstanceOf(Date);
    expect((await pool.parse(F.plainText())).parseError).toBeNull(); // a fresh worker took over
  });

  it('a worker that crashes (out of memory) mid-parse: replaced, its message gets a parseError', async () => {
    const pool = newPool({ size: 1, maxMemoryMb: 32 });
    const raw = htmlBomb();
    const m = await pool.parse(raw);
    expect(m.parseError).toBe('parser worker ran out of memory');
    expect(m.subject).toBe('HTML bomb');
    expect(m.rawBlobKey).toBe(F.sha256(htmlBomb()));
    const next = await Promise.all([pool.parse(F.plainText()), pool.parse(F.tnef())]);
    expect(next.map((x) => x.parseError)).toEqual([null, null]);
  });

  it('one worker parses several messages at once, and a crash costs only the message that causes it', async () => {
    const pool = newPool({ size: 1, perWorker: 4, maxMemoryMb: 32 });
    const plain = [F.plainText('a\n', { Subject: 'a' }), F.withAttachments([50_000]), F.plainText('c\n', { Subject: 'c' })];
    const results = await Promise.all([pool.parse(plain[0]!), pool.parse(htmlBomb()), pool.parse(plain[1]!), pool.parse(plain[2]!)]);
    expect(results.map((m) => m.parseError)).toEqual([null, 'parser worker ran out of memory', null, null]);
    expect(results.map((m) => m.subject)).toEqual(['a', 'HTML bomb', 'Attachments', 'c']);
    expect(results[2]!.attachments).toHaveLength(1);
  });

  it('inline sources (inlineMaxBytes): never written by the worker, and kept for the retry after a crash', async () => {
    const root = path.join(dir, 'inline-blobs'); // the other tests store the HTML bomb's source as a file
    const pool = newPool({ size: 1, perWorker: 4, maxMemoryMb: 32, inlineMaxBytes: 1024 * 1024, blobRoot: root });
    const plain = [F.plainText('inline a\n', { Subject: 'inline a' }), F.plainText('inline b\n', { Subject: 'inline b' })];
    const results = await Promise.all([pool.parse(plain[0]!), pool.parse(htmlBomb()), pool.parse(plain[1]!)]);
    expect(results.map((m) => m.parseError)).toEqual([null, 'parser worker ran out of memory', null]);
    expect(results.map((m) => [m.subject, m.rawInline])).toEqual([['inline a', true], ['HTML bomb', true], ['inline b', true]]);
    expect(results.map((m) => m.rawBlobKey)).toEqual([F.sha256(plain[0]!), F.sha256(htmlBomb()), F.sha256(plain[1]!)]);
    for (const m of results) await expect(readFile(new BlobStore(root).path(m.rawBlobKey))).rejects.toThrow(/ENOENT/);
  });

  it('rejects (never hangs) when a worker cannot even start', async () => {
    const pool = newPool({ size: 1, maxMemoryMb: 8 }); // too small for tsx + mailparser to load
    const results = await Promise.allSettled([pool.parse(F.plainText()), pool.parse(F.plainText())]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const r of results) expect(String((r as PromiseRejectedResult).reason)).toMatch(/parser worker .*failed to start/);
  });

  it('rejects when the blob store fails inside the worker', async () => {
    const file = path.join(dir, 'blob-root-is-a-file');
    await writeFile(file, 'x');
    const pool = newPool({ size: 1, blobRoot: file });
    await expect(pool.parse(F.plainText())).rejects.toThrow(/blob store failed/);
    // The file-system error code crosses the thread boundary (ENOSPC and the like are then reported as storage).
    await expect(pool.parse(F.plainText())).rejects.toMatchObject({ code: expect.stringMatching(/^E[A-Z]+$/) });
  });

  it('close() lets running messages finish, fails queued ones, refuses new ones', async () => {
    const pool = newPool({ size: 1, perWorker: 1 });
    await pool.parse(F.plainText()); // worker booted
    const running = pool.parse(F.withAttachments([100_000]));
    const queued = pool.parse(F.plainText());
    const closing = pool.close();
    await expect(running).resolves.toMatchObject({ subject: 'Attachments', parseError: null });
    await expect(queued).rejects.toThrow('parser pool is closed');
    await closing;
    await expect(pool.parse(F.plainText())).rejects.toThrow('parser pool is closed');
  });
});
