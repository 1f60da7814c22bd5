/** A test file's own blob store in a temporary directory: filled in beforeAll, removed in afterAll. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { BlobStore } from '../../src/storage/blob-store.js';

export function useTempBlobStore(prefix: string): { store: BlobStore } {
  const env = {} as { store: BlobStore; dir: string };
  beforeAll(async () => {
    env.dir = await mkdtemp(path.join(tmpdir(), prefix));
    env.store = new BlobStore(path.join(env.dir, 'blobs'));
  });
  afterAll(async () => {
    if (env.dir) await rm(env.dir, { recursive: true, force: true });
  });
  return env;
}
