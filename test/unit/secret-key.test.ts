/** DATA_DIR/secret.key: generated once, also when several starts race for it; INCOMING_SECRET_KEY wins. */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadSecretKey } from '../../src/storage/secret-key.js';

/** link() as on a file system without hard links, while `refuse` is set. */
const links = vi.hoisted(() => ({ refuse: false }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const link: typeof actual.link = async (from, to) => {
    if (links.refuse) throw Object.assign(new Error('operation not permitted'), { code: 'EPERM' });
    return actual.link(from, to);
  };
  return { ...actual, default: { ...actual, link }, link };
});

const dirs: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(path.join(os.tmpdir(), 'incoming-secret-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('loadSecretKey', () => {
  it('starts racing on a new DATA_DIR all get the one key, never a half-written file', async () => {
    // open(wx) + write left a moment where the file existed empty: a concurrent start read it and failed
    // ('secret key must be 32 bytes').
    for (let round = 0; round < 20; round++) {
      const dir = await tempDir();
      const keys = await Promise.all(Array.from({ length: 8 }, () => loadSecretKey(undefined, dir)));
      expect(new Set(keys.map((k) => k.toString('hex'))).size).toBe(1);
      expect(await readdir(dir)).toEqual(['secret.key']); // no temporary file left
      expect((await stat(path.join(dir, 'secret.key'))).mode & 0o777).toBe(0o600);
    }
  });

  it('on a file system without hard links (link() refused) the key is created directly', async () => {
    const dir = await tempDir();
    links.refuse = true;
    try {
      const key = await loadSecretKey(undefined, dir);
      expect(await readdir(dir)).toEqual(['secret.key']);
      expect((await loadSecretKey(undefined, dir)).equals(key)).toBe(true);
    } finally {
      links.refuse = false;
    }
  });

  it('uses INCOMING_SECRET_KEY when given and writes nothing', async () => {
    const dir = await tempDir();
    expect((await loadSecretKey('ab'.repeat(32), dir)).toString('hex')).toBe('ab'.repeat(32));
    expect(await readdir(dir)).toEqual([]);
  });
});
