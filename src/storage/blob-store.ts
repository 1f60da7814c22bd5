/**
 * Content-addressed blob store under DATA_DIR/blobs, outside any served directory: attachments, converted audio and
 * raw messages over RAW_INLINE_MAX_BYTES (smaller ones are rows of `raw_sources` under the same key). Key = lowercase
 * sha256 hex of the content, file at `root/ab/<key>`; identical content is stored once. Streams are written into
 * `root/tmp/` while hashing, buffers (hashed first) into a temp file beside their final path; both are fsynced, then
 * renamed into place, so a reader never sees a partial file and a crash leaves at most a stale temp file. Files are
 * written before the rows that reference them; `sweep()` removes files no row references once they are older than a
 * grace period.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { causeChain } from '../shared/errors.js';

const KEY = /^[0-9a-f]{64}$/;
const FANOUT = /^[0-9a-f]{2}$/;
const SWEEP_BATCH = 500;
/** Stream writes are gathered up to this size. */
const WRITE_CHUNK = 256 * 1024;
/** Temp files of writeBuffer, next to their final path; the sweep removes stale ones. */
const TMP_SUFFIX = '.tmp';
/** A blob the sweep moved into tmp/ before deciding (removeIfOld): `sweep-<key>-<random>`. */
const SWEPT = /^sweep-([0-9a-f]{64})-[0-9a-f]+$/;

export interface StoredBlob {
  key: string;
  size: number;
}

/** The key a content has in the store (and in `raw_sources`): lowercase sha256 hex. */
export const blobKey = (buf: Uint8Array): string => createHash('sha256').update(buf).digest('hex');

/** File-system failures of the store itself: full or read-only disk, quota, permissions, I/O, descriptors. */
const STORAGE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EMFILE', 'ENFILE']);

/** Whether `err` (or its cause) is a local storage failure: reported as such, never blamed on the IMAP server. */
export function isStorageFailure(err: unknown): boolean {
  return [...causeChain(err)].some((e) => {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' && STORAGE_CODES.has(code);
  });
}

const listDir = (dir: string): Promise<string[]> => readdir(dir).catch(() => [] as string[]);
const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';

export class BlobStore {
  private readonly tmp: string;
  private tmpReady: Promise<unknown> | null = null;

  constructor(readonly root: string) {
    this.tmp = path.join(root, 'tmp');
  }

  /** The file path of a key; throws on anything but a lowercase sha256 hex key, so no traversal is possible. */
  path(key: string): string {
    if (typeof key !== 'string' || !KEY.test(key)) throw new Error('invalid blob key');
    return path.join(this.root, key.slice(0, 2), key);
  }

  /**
   * Streams `src` into the store (hash while writing, fsync, rename); resolves with its key and size. Small chunks are
   * gathered into writes of up to WRITE_CHUNK bytes: a decoded attachment arrives a base64 line (57 bytes) at a time,
   * and one write() per line cost more CPU than parsing the message (bench:ingest profile).
   */
  async writeStream(src: Readable): Promise<StoredBlob> {
    const tmpFile = await this.tempFile();
    const hash = createHash('sha256');
    let size = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    // Hashed as gathered, not per input chunk: one hash.update() per 57-byte line was ~4% of a parser worker's CPU.
    const take = (): Buffer => {
      const out = Buffer.concat(pending, pendingBytes);
      hash.update(out);
      pending = [];
      pendingBytes = 0;
      return out;
    };
    const gather = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes < WRITE_CHUNK) return cb();
        cb(null, take());
      },
      flush(cb) {
        cb(null, pendingBytes > 0 ? take() : undefined);
      },
    });
    try {
      // `flush: true` makes the write stream fsync before close: the rename must never publish unwritten data, and the
      // row that references the blob commits after this.
      await pipeline(src, gather, createWriteStream(tmpFile, { flush: true }));
      const key = hash.digest('hex');
      await this.publish(tmpFile, this.path(key));
      return { key, size };
    } catch (err) {
      await rm(tmpFile, { force: true });
      throw err;
    }
  }

  /** Stores a buffer (one write, fsync, rename — no stream machinery); see `writeStream`. */
  async writeBuffer(buf: Buffer): Promise<StoredBlob> {
    const key = blobKey(buf);
    const final = this.path(key);
    // Already stored: refresh its mtime (see publish) without writing anything.
    if (await this.touch(final)) return { key, size: buf.length };
    // The temp file goes next to its final path (a rename within one directory; temp files spread over 256
    // directories instead of all creating in tmp/, whose directory lock the writers otherwise contend for).
    const tmpFile = `${final}.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`;
    try {
      await this.inFanOut(final, () => writeFile(tmpFile, buf, { flush: true }));
      // Replacing a copy published meanwhile is harmless: same content, fresh mtime.
      await rename(tmpFile, final);
      return { key, size: buf.length };
    } catch (err) {
      await rm(tmpFile, { force: true });
      throw err;
    }
  }

  private async tempFile(): Promise<string> {
    this.tmpReady ??= mkdir(this.tmp, { recursive: true }).catch((err: unknown) => {
      this.tmpReady = null;
      throw err;
    });
    await this.tmpReady;
    return path.join(this.tmp, `${Date.now()}-${randomBytes(8).toString('hex')}`);
  }

  /** Sets a stored file's mtime to now; false when there is no such file. */
  private async touch(final: string): Promise<boolean> {
    try {
      const now = new Date();
      await utimes(final, now, now);
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /**
   * Moves a finished temp file to its final path. When the content is already stored the temp file is dropped, but
   * the existing file's mtime is refreshed first: it is about to be referenced by a new row, and the sweep only
   * deletes files that are both unreferenced *and* old.
   */
  private async publish(tmpFile: string, final: string): Promise<void> {
    if (await this.touch(final)) {
      await unlink(tmpFile);
      return;
    }
    await this.inFanOut(final, () => rename(tmpFile, final));
  }

  /** Runs `op` on a path in `final`'s fan-out directory, creating the directory when it does not exist yet. */
  private async inFanOut(final: string, op: () => Promise<void>): Promise<void> {
    try {
      await op();
    } catch (err) {
      if (!isMissing(err)) throw err;
      await mkdir(path.dirname(final), { recursive: true });
      await op();
    }
  }

  /** Reads a blob, optionally a byte range (inclusive end, as HTTP Range). */
  createReadStream(key: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.path(key), range ? { start: range.start, end: range.end } : undefined);
  }

  /** Whether a blob is stored. */
  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null;
  }

  /** The size of a stored blob, `null` when there is none. */
  async stat(key: string): Promise<{ size: number } | null> {
    try {
      const s = await stat(this.path(key));
      return { size: s.size };
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  /** Removes a blob (no error when it is already gone). */
  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  /** Every stored key with its modification time (the fan-out directories are walked lazily). */
  async *keys(): AsyncIterable<{ key: string; mtimeMs: number }> {
    for await (const e of this.entries()) if (e.key) yield { key: e.key, mtimeMs: e.mtimeMs };
  }

  /** Every file in the fan-out directories: blobs (with their key) and writeBuffer's temp files (key null). */
  private async *entries(): AsyncIterable<{ key: string | null; file: string; mtimeMs: number }> {
    for (const a of (await listDir(this.root)).sort()) {
      if (!FANOUT.test(a)) continue;
      for (const name of await listDir(path.join(this.root, a))) {
        const isKey = KEY.test(name) && name.startsWith(a);
        if (!isKey && !name.endsWith(TMP_SUFFIX)) continue;
        const file = path.join(this.root, a, name);
        const s = await stat(file).catch(() => null);
        if (s?.isFile()) yield { key: isKey ? name : null, file, mtimeMs: s.mtimeMs };
      }
    }
  }

  /**
   * Moves blobs of the earlier two-level layout (`ab/cd/<key>`) to `ab/<key>`; returns how many. One level of 256
   * directories is enough (git's layout), and the second level made almost every new blob create a directory too.
   */
  async migrateLayout(): Promise<number> {
    let moved = 0;
    for (const a of await listDir(this.root)) {
      if (!FANOUT.test(a)) continue;
      for (const b of await listDir(path.join(this.root, a))) {
        if (!FANOUT.test(b)) continue;
        const dir = path.join(this.root, a, b);
        for (const key of await listDir(dir)) {
          if (!KEY.test(key) || !key.startsWith(a + b)) continue;
          // Another instance starting at the same time may have moved it already.
          const ok = await rename(path.join(dir, key), this.path(key)).then(() => true, (err: unknown) => {
            if (isMissing(err)) return false;
            throw err;
          });
          if (ok) moved++;
        }
        await rm(dir, { recursive: true, force: true });
      }
    }
    return moved;
  }

  /**
   * Removes one blob unless it was touched after `cutoff`. A writer that deduplicates onto the file refreshes its mtime
   * (see publish) and its row may not be committed yet. Checking the mtime and then unlinking would leave a window in
   * which that refresh is lost, so the file is first renamed away atomically, then checked: a refresh before the rename
   * shows on the moved file (which is put back), one after it finds no file and publishes its own copy.
   */
  private async removeIfOld(key: string, cutoff: number): Promise<boolean> {
    const final = this.path(key);
    const doomed = path.join(this.tmp, `sweep-${key}-${randomBytes(4).toString('hex')}`);
    await mkdir(this.tmp, { recursive: true });
    try {
      await rename(final, doomed);
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
    // Gone already: put back by restoreSwept (another instance's sweep, or a start-up).
    const s = await stat(doomed).catch((err: unknown) => (isMissing(err) ? null : Promise.reject(err)));
    if (s === null) return false;
    if (s.mtimeMs > cutoff) {
      await rename(doomed, final).catch((err: unknown) => (isMissing(err) ? undefined : Promise.reject(err))); // same content as anything published there meanwhile
      return false;
    }
    await rm(doomed, { force: true });
    return true;
  }

  /**
   * Puts back the blobs a sweep had moved aside (removeIfOld) when its process was killed before it decided: a
   * writer may have deduplicated onto such a file just before, and its row references it. Content-addressed, so
   * putting one back is always safe (one nothing references goes with a later sweep). Runs at start-up and before
   * each sweep; returns how many were put back.
   */
  async restoreSwept(): Promise<number> {
    let restored = 0;
    for (const name of await listDir(this.tmp)) {
      const key = SWEPT.exec(name)?.[1];
      if (!key) continue;
      const final = this.path(key);
      const back = await this.inFanOut(final, () => rename(path.join(this.tmp, name), final)).then(
        () => true,
        (err: unknown) => (isMissing(err) ? false : Promise.reject(err)), // decided meanwhile by a sweep in progress
      );
      if (back) restored++;
    }
    return restored;
  }

  /**
   * Deletes blobs that `referenced` does not vouch for and that are older than `olderThanMs` (a file written just
   * before its row commits is never swept), plus temp files older than that (left by a crash mid-write). Keys are
   * checked in batches of 500. Returns how many blobs were removed.
   */
  async sweep(referenced: (keys: string[]) => Promise<Set<string>>, olderThanMs: number): Promise<number> {
    await this.restoreSwept();
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    let batch: string[] = [];
    const flush = async (): Promise<void> => {
      const used = await referenced(batch);
      for (const key of batch) {
        if (used.has(key)) continue;
        if (await this.removeIfOld(key, cutoff)) removed++;
      }
      batch = [];
    };
    for await (const { key, file, mtimeMs } of this.entries()) {
      if (mtimeMs > cutoff) continue;
      if (key === null) {
        await rm(file, { force: true }); // a writeBuffer temp file left by a crash
        continue;
      }
      batch.push(key);
      if (batch.length >= SWEEP_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    for (const f of await listDir(this.tmp)) {
      const s = await stat(path.join(this.tmp, f)).catch(() => null);
      if (s && s.mtimeMs < cutoff) await rm(path.join(this.tmp, f), { force: true });
    }
    return removed;
  }
}
