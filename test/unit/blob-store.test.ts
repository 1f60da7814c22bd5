import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobStore, isStorageFailure } from '../../src/storage/blob-store.js';

let dir: string;
let n = 0;
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const freshStore = (): BlobStore => new BlobStore(path.join(dir, `store-${++n}`));
const collect = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
};
const age = async (file: string, ms: number): Promise<void> => {
  const t = new Date(Date.now() - ms);
  await utimes(file, t, t);
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'blob-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('BlobStore', () => {
  it('stores content under its sha256 in a one-level fan-out', async () => {
    const store = freshStore();
    const content = Buffer.from('hello blob');
    const { key, size } = await store.writeBuffer(content);
    expect(key).toBe(sha(content));
    expect(size).toBe(content.length);
    expect(store.path(key)).toBe(path.join(store.root, key.slice(0, 2), key));
    expect(await readFile(store.path(key))).toEqual(content);
    expect(await store.exists(key)).toBe(true);
    expect(await store.stat(key)).toEqual({ size: content.length });
  });

  it('streams multi-chunk input and leaves no temp files', async () => {
    const store = freshStore();
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.alloc(10_000, i));
    const { key, size } = await store.writeStream(Readable.from(chunks));
    expect(size).toBe(500_000);
    expect(key).toBe(sha(Buffer.concat(chunks)));
    expect(await readdir(path.join(store.root, 'tmp'))).toEqual([]);
  });

  it('stores identical content once (dedupe), also under concurrent writes', async () => {
    const store = freshStore();
    const content = Buffer.from('same bytes');
    const results = await Promise.all(Array.from({ length: 5 }, () => store.writeBuffer(content)));
    expect(new Set(results.map((r) => r.key)).size).toBe(1);
    const keys = [];
    for await (const k of store.keys()) keys.push(k.key);
    expect(keys).toEqual([sha(content)]);
    // No temp file is left beside it.
    expect(await readdir(path.dirname(store.path(sha(content))))).toEqual([sha(content)]);
  });

  it('refreshes the mtime of an existing blob on a deduplicated write (so the sweep spares it)', async () => {
    const store = freshStore();
    const { key } = await store.writeBuffer(Buffer.from('old content'));
    await age(store.path(key), 3_600_000);
    await store.writeBuffer(Buffer.from('old content'));
    const [entry] = await collect(store.keys());
    expect(Date.now() - entry!.mtimeMs).toBeLessThan(60_000);
  });

  it('stores the empty blob', async () => {
    const store = freshStore();
    const { key, size } = await store.writeBuffer(Buffer.alloc(0));
    expect(size).toBe(0);
    expect(key).toBe(sha(''));
  });

  it('rejects and cleans up when the source stream fails', async () => {
    const store = freshStore();
    const failing = new Readable({
      read() {
        this.push(Buffer.from('partial'));
        this.destroy(new Error('source broke'));
      },
    });
    await expect(store.writeStream(failing)).rejects.toThrow('source broke');
    expect(await readdir(path.join(store.root, 'tmp'))).toEqual([]);
  });

  it.each(['../../etc/passwd', '..', '', 'A'.repeat(64), `${'a'.repeat(63)}/`, `${'a'.repeat(62)}..`, `${'0'.repeat(64)}\u0000`, 'g'.repeat(64)])(
    'path() refuses a non-key: %j',
    (bad) => {
      const store = freshStore();
      expect(() => store.path(bad)).toThrow('invalid blob key');
      expect(() => store.createReadStream(bad)).toThrow('invalid blob key');
    },
  );

  it('reads a byte range (inclusive end)', async () => {
    const store = freshStore();
    const { key } = await store.writeBuffer(Buffer.from('0123456789'));
    expect(await text(store.createReadStream(key, { start: 2, end: 5 }))).toBe('2345');
    expect(await text(store.createReadStream(key))).toBe('0123456789');
  });

  it('stat() is null and delete() is quiet for a missing blob', async () => {
    const store = freshStore();
    const missing = sha('never stored');
    expect(await store.stat(missing)).toBeNull();
    expect(await store.exists(missing)).toBe(false);
    await expect(store.delete(missing)).resolves.toBeUndefined();
  });

  it('moves blobs of the earlier two-level layout (ab/cd/<key>) to ab/<key>', async () => {
    const store = freshStore();
    const content = Buffer.from('stored by an earlier version');
    const key = sha(content);
    const legacy = path.join(store.root, key.slice(0, 2), key.slice(2, 4));
    await mkdir(legacy, { recursive: true });
    await writeFile(path.join(legacy, key), content);
    expect(await store.migrateLayout()).toBe(1);
    expect(await readFile(store.path(key))).toEqual(content);
    expect(await readdir(path.join(store.root, key.slice(0, 2)))).toEqual([key]);
    expect(await collect(store.keys())).toHaveLength(1);
    expect(await store.migrateLayout()).toBe(0);
  });

  it('keys() lists nothing for a store that does not exist yet', async () => {
    expect(await collect(freshStore().keys())).toEqual([]);
  });

  describe('sweep', () => {
    it('keeps referenced and young blobs, removes old unreferenced ones and stale temp files', async () => {
      const store = freshStore();
      const referencedOld = await store.writeBuffer(Buffer.from('referenced'));
      const orphanOld = await store.writeBuffer(Buffer.from('orphan'));
      const orphanYoung = await store.writeBuffer(Buffer.from('just written, row not committed yet'));
      await age(store.path(referencedOld.key), 7_200_000);
      await age(store.path(orphanOld.key), 7_200_000);
      // Temp files of both kinds: a stream's in tmp/, a buffer's beside its final path.
      await mkdir(path.join(store.root, 'tmp'), { recursive: true });
      const staleTmp = path.join(store.root, 'tmp', 'crashed-write');
      const freshTmp = path.join(store.root, 'tmp', 'in-progress-write');
      const staleBeside = `${store.path(referencedOld.key)}.0a1b2c.tmp`;
      const freshBeside = `${store.path(orphanYoung.key)}.3d4e5f.tmp`;
      for (const f of [staleTmp, freshTmp, staleBeside, freshBeside]) await writeFile(f, 'x');
      await age(staleTmp, 7_200_000);
      await age(staleBeside, 7_200_000);

      const asked: string[][] = [];
      const removed = await store.sweep(async (keys) => {
        asked.push([...keys]);
        return new Set(keys.filter((k) => k === referencedOld.key));
      }, 3_600_000);

      expect(removed).toBe(1);
      expect(await store.exists(referencedOld.key)).toBe(true);
      expect(await store.exists(orphanOld.key)).toBe(false);
      expect(await store.exists(orphanYoung.key)).toBe(true);
      // Young files are not even offered to `referenced`.
      expect(asked.flat().sort()).toEqual([referencedOld.key, orphanOld.key].sort());
      expect(await readdir(path.join(store.root, 'tmp'))).toEqual(['in-progress-write']);
      expect(await readdir(path.dirname(staleBeside))).not.toContain(path.basename(staleBeside));
      expect(await readdir(path.dirname(freshBeside))).toContain(path.basename(freshBeside));
    });

    it('asks about keys in batches of at most 500', async () => {
      const store = freshStore();
      const keys = await Promise.all(Array.from({ length: 1203 }, (_, i) => store.writeBuffer(Buffer.from(`blob ${i}`))));
      await Promise.all(keys.map((k) => age(store.path(k.key), 7_200_000)));
      const sizes: number[] = [];
      const removed = await store.sweep(async (batch) => {
        sizes.push(batch.length);
        return new Set(batch.filter((_, i) => i % 2 === 0));
      }, 3_600_000);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(500);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(1203);
      expect(removed).toBe(sizes.reduce((a, s) => a + Math.floor(s / 2), 0));
    });

    it('never loses a blob that a concurrent writer deduplicates onto while it is being swept', async () => {
      // Before the fix the sweep checked the mtime and then unlinked: a writer refreshing the file in between got its
      // key back for a file that was gone (a few times in 150 here). The sweep now moves the file away first, then checks.
      const store = freshStore();
      let removed = 0;
      for (let i = 0; i < 150; i++) {
        const content = Buffer.from(`race ${i}`);
        const { key } = await store.writeBuffer(content);
        await age(store.path(key), 7_200_000);
        const writer = (async () => {
          await new Promise((r) => setTimeout(r, i % 6));
          return store.writeBuffer(content);
        })();
        const [n, written] = await Promise.all([store.sweep(async () => new Set(), 3_600_000), writer]);
        removed += n;
        expect(written.key).toBe(key);
        expect(await store.exists(key)).toBe(true);
      }
      expect(removed).toBeGreaterThan(0); // both orders happened: some sweeps ran before the writer
      expect(await readdir(path.join(store.root, 'tmp'))).toEqual([]);
    });

    it('puts back a blob it had moved aside when its process was killed, and start-up does too', async () => {
      // removeIfOld moves a file into tmp/ before it decides; killed there, with a writer that had just deduplicated
      // onto the file (fresh mtime, its row committed), the blob was missing from its path, then swept as a temp file.
      for (const how of ['sweep', 'start-up'] as const) {
        for (const ms of [0, 7_200_000]) {
          const store = freshStore();
          const content = Buffer.from(`killed mid-sweep ${how} ${ms}`);
          const { key } = await store.writeBuffer(content);
          await mkdir(path.join(store.root, 'tmp'), { recursive: true });
          const aside = path.join(store.root, 'tmp', `sweep-${key}-0a1b2c3d`);
          await rename(store.path(key), aside);
          await age(aside, ms);
          if (how === 'sweep') expect(await store.sweep(async (keys) => new Set(keys), 3_600_000)).toBe(0);
          else expect(await store.restoreSwept()).toBe(1);
          expect(await readFile(store.path(key))).toEqual(content);
          expect(await readdir(path.join(store.root, 'tmp'))).toEqual([]);
        }
      }
    });

    it('spares a blob that was re-written while `referenced` was running', async () => {
      const store = freshStore();
      const { key } = await store.writeBuffer(Buffer.from('dedupe race'));
      await age(store.path(key), 7_200_000);
      const removed = await store.sweep(async () => {
        await store.writeBuffer(Buffer.from('dedupe race')); // a new message with the same content
        return new Set();
      }, 3_600_000);
      expect(removed).toBe(0);
      expect(await store.exists(key)).toBe(true);
    });
  });
});

describe('isStorageFailure', () => {
  it('recognises a full, read-only or inaccessible store, also as a cause; not other errors', () => {
    const fsError = (code: string) => Object.assign(new Error(`${code}: write`), { code });
    for (const code of ['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EIO', 'EMFILE']) expect(isStorageFailure(fsError(code))).toBe(true);
    expect(isStorageFailure(new Error('sync failed', { cause: fsError('ENOSPC') }))).toBe(true);
    expect(isStorageFailure(fsError('ECONNREFUSED'))).toBe(false);
    expect(isStorageFailure(new Error('parse error'))).toBe(false);
    expect(isStorageFailure(undefined)).toBe(false);
  });
});
