/**
 * The real process: `bin/incoming.js serve` started as a child — bootstrap key printed once, persistence across
 * restarts, graceful SIGTERM, two instances sharing one rate-limit budget, the `incoming keys` CLI, and the embedded
 * PostgreSQL default (DATABASE_URL unset).
 */
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/db/embedded.js';
import { expectEventually } from '../support/eventually.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { apiRequest, newCredentials, ROOT, spawnServer, type SpawnedServer } from '../support/server.js';

const exec = promisify(execFile);
let db: TestDatabase;
let dataDir: string;
const running: SpawnedServer[] = [];

async function serve(env: Record<string, string>): Promise<SpawnedServer> {
  const s = await spawnServer({ DATA_DIR: dataDir, ...env });
  running.push(s);
  return s;
}

async function stop(s: SpawnedServer): Promise<number | NodeJS.Signals> {
  s.child.kill('SIGTERM');
  return s.exited;
}

function cli(args: string[], env: Record<string, string>) {
  return exec(process.execPath, [path.join(ROOT, 'bin/incoming.js'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'incoming-life-'));
  await chmod(dataDir, 0o711);
});
afterAll(async () => {
  for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('serve (DATABASE_URL)', () => {
  it('prints a bootstrap key once, keeps data across restarts, stops gracefully on SIGTERM', async () => {
    const first = await serve({ DATABASE_URL: db.url });
    const key = /X-API-Key:\s+(\S+)/.exec(first.output())?.[1];
    const secret = /X-API-Secret:\s+(\S+)/.exec(first.output())?.[1];
    expect(key).toBeTruthy();
    expect(secret).toBeTruthy();
    const creds = { key: key!, secret: secret! };
    const validated = await apiRequest(first.url, creds, '/api/auth/validate', { method: 'POST' });
    expect(validated.body.data.key.permissions).toEqual(['read', 'write', 'send', 'admin']);
    // The secret never reaches the JSON log lines.
    const logLines = first.output().split('\n').filter((l) => l.startsWith('{'));
    expect(logLines.join('\n')).not.toContain(secret);
    const created = await apiRequest(first.url, creds, '/api/accounts', {
      method: 'POST',
      json: { name: 'Persisted', email: 'p@example.com', host: '127.0.0.1', port: 143, username: 'p', password: 'pw', encryption: 'none' },
    });
    expect(created.status).toBe(201);
    expect(await stop(first)).toBe(0);
    expect(first.output()).toContain('shutting down');

    const second = await serve({ DATABASE_URL: db.url });
    expect(second.output()).not.toContain('X-API-Secret');
    const list = await apiRequest(second.url, creds, '/api/accounts');
    expect(list.body.data.map((a: { name: string }) => a.name)).toEqual(['Persisted']);
    expect(await stop(second)).toBe(0);
  });

  it('serve re-executes itself in place with its memory settings, unless the operator chose their own', async () => {
    const settings = async (s: SpawnedServer) => {
      const pid = s.child.pid!;
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
      return { argv, malloc: environ.filter((e) => e.startsWith('MALLOC_')).sort() };
    };
    const tuned = await serve({ DATABASE_URL: db.url });
    // Same PID (signals reach the server), with the flag and the malloc settings.
    expect(await settings(tuned)).toMatchObject({
      argv: expect.arrayContaining(['--max-semi-space-size=16', '--max-old-space-size=1024']),
      malloc: ['MALLOC_ARENA_MAX=2', 'MALLOC_MMAP_THRESHOLD_=131072'],
    });
    expect(await stop(tuned)).toBe(0);
    const lean = await serve({ DATABASE_URL: db.url, INCOMING_SEMI_SPACE_MB: '2', INCOMING_OLD_SPACE_MB: '512' });
    expect((await settings(lean)).argv).toEqual(expect.arrayContaining(['--max-semi-space-size=2', '--max-old-space-size=512']));
    expect(await stop(lean)).toBe(0);
    // The operator's own heap size (either flag): none of ours is added.
    const own = await serve({ DATABASE_URL: db.url, NODE_OPTIONS: '--max-old-space-size=2048' });
    expect((await settings(own)).argv.some((a) => a.includes('space-size'))).toBe(false);
    expect(await stop(own)).toBe(0);
    const off = await serve({ DATABASE_URL: db.url, INCOMING_RUNTIME_TUNING: 'off' });
    expect(await settings(off)).toMatchObject({ malloc: [] });
    expect(await stop(off)).toBe(0);
    // Four server processes started and stopped one after the other: under the CI's embedded-PostgreSQL pass, with
    // other files running, that took over the default 30 s.
  }, 120_000);

  it('INCOMING_API_KEY/SECRET make that key exist with all permissions', async () => {
    const creds = newCredentials();
    const s = await serve({ DATABASE_URL: db.url, INCOMING_API_KEY: creds.key, INCOMING_API_SECRET: creds.secret });
    const r = await apiRequest(s.url, creds, '/api/auth/validate', { method: 'POST' });
    expect(r.status).toBe(200);
    expect(r.body.data.key.permissions).toEqual(['read', 'write', 'send', 'admin']);
    expect(await stop(s)).toBe(0);
  });

  it('two server processes on one database share one rate-limit budget', async () => {
    const creds = newCredentials();
    const { stdout } = await cli(['keys', 'create', '--name', 'shared', '--permissions', 'read', '--per-minute', '10', '--json'], { DATABASE_URL: db.url });
    const key = JSON.parse(stdout) as { publicKey: string; secret: string; rateLimit: { requestsPerMinute: number } };
    expect(key.rateLimit.requestsPerMinute).toBe(10);
    const shared = { key: key.publicKey, secret: key.secret };
    const s = new Date().getUTCSeconds();
    if (s > 50) await new Promise((r) => setTimeout(r, (61 - s) * 1000));
    const [a, b] = await Promise.all([serve({ DATABASE_URL: db.url, ...env(creds) }), serve({ DATABASE_URL: db.url, ...env(creds) })]);
    for (let i = 0; i < 5; i++) {
      expect((await apiRequest(a!.url, shared, '/api/accounts')).status).toBe(200);
      expect((await apiRequest(b!.url, shared, '/api/accounts')).status).toBe(200);
    }
    const overA = await apiRequest(a!.url, shared, '/api/accounts');
    const overB = await apiRequest(b!.url, shared, '/api/accounts');
    expect(overA.status).toBe(429);
    expect(overB.status).toBe(429);
    expect(overB.headers.get('retry-after')).toBeTruthy();
    await Promise.all([stop(a!), stop(b!)]);
  });

  it('keys CLI: create, list, revoke', async () => {
    const { stdout } = await cli(['keys', 'create', '--name', 'cli key', '--permissions', 'read,write', '--json'], { DATABASE_URL: db.url });
    const created = JSON.parse(stdout) as { id: number; publicKey: string; secret: string; permissions: string[] };
    expect(created.permissions).toEqual(['read', 'write']);
    expect(created.secret).toMatch(/^ins_/);
    const list = JSON.parse((await cli(['keys', 'list', '--json'], { DATABASE_URL: db.url })).stdout) as { id: number; publicKey: string }[];
    expect(list.map((k) => k.publicKey)).toContain(created.publicKey);
    expect(JSON.stringify(list)).not.toContain(created.secret);
    expect((await cli(['keys', 'revoke', String(created.id)], { DATABASE_URL: db.url })).stdout).toContain('Revoked');
    const bad = await cli(['keys', 'create', '--name', 'x', '--permissions', 'root'], { DATABASE_URL: db.url }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toContain('root');
    // Five CLI processes, each booting Node and the ORM: ~1.5 s of CPU each, over 30 s on a loaded 2-core machine.
  }, 120_000);

  it('keys list: a name with tabs, line breaks or escape sequences stays one line of five tab-separated fields', async () => {
    const name = 'tab\there\nsecond line\r\\back\u001b[31mred';
    const { stdout } = await cli(['keys', 'create', '--name', name, '--permissions', 'read'], { DATABASE_URL: db.url });
    expect(stdout).toContain('"tab\\there\\nsecond line\\r\\\\back\\u001b[31mred"');
    const lines = (await cli(['keys', 'list'], { DATABASE_URL: db.url })).stdout.split('\n').filter(Boolean);
    for (const line of lines) expect(line.split('\t')).toHaveLength(5);
    const fields = lines.map((l) => l.split('\t')).find((f) => f[2]!.startsWith('tab'));
    expect(fields?.[2]).toBe('tab\\there\\nsecond line\\r\\\\back\\u001b[31mred');
    expect(lines.join('\n')).not.toContain('\u001b');
  }, 120_000);

  it('keys create: an empty --accounts (an unset shell variable) is refused, not a key for every account; limits are checked', async () => {
    const failed = (args: string[]) => cli(['keys', 'create', '--name', 'x', ...args], { DATABASE_URL: db.url }).then(
      (ok) => ({ code: 0, stdout: ok.stdout, stderr: ok.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    for (const [args, message] of [
      [['--accounts', ''], 'account_ids'],
      [['--accounts', ','], 'account_ids'],
      [['--per-minute', '99999999999'], 'requests_per_minute'],
      [['--per-hour', ''], 'requests_per_hour'],
    ] as const) {
      const r = await failed([...args]);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/DriverException|\n\s+at /);
    }
  }, 120_000);

  it('SIGTERM while waiting for an unreachable database stops at once, exit 0', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/incoming.js'), 'serve'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/x`, DATABASE_WAIT_MS: '60000' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await expectEventually(() => expect(out).toContain('waiting for the database'), { timeoutMs: 30_000 });
    const t = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(out).toContain('start-up interrupted; stopped');
  });

  it('invalid configuration stops start-up naming the variable', async () => {
    const r = await cli(['serve'], { PORT: 'not-a-port' }).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(78);
    expect((r as { stderr: string }).stderr).toContain('PORT');
  });
});

describe('serve (embedded PostgreSQL, DATABASE_URL unset)', () => {
  it('initialises on first start, persists across restarts, stops cleanly', async () => {
    const embeddedDir = await mkdtemp(path.join(os.tmpdir(), 'incoming-emb-'));
    await chmod(embeddedDir, 0o711);
    try {
      const creds = newCredentials();
      const first = await serve({ DATA_DIR: embeddedDir, ...env(creds) });
      expect((await apiRequest(first.url, creds, '/readyz', { auth: false })).status).toBe(200);
      const created = await apiRequest(first.url, creds, '/api/accounts', {
        method: 'POST',
        json: { name: 'Embedded', email: 'e@example.com', host: '127.0.0.1', port: 143, username: 'e', password: 'pw' },
      });
      expect(created.status).toBe(201);
      // While the server runs, the CLI shares its embedded cluster instead of stopping it.
      const listed = await cli(['keys', 'list', '--json'], { DATA_DIR: embeddedDir });
      expect(JSON.parse(listed.stdout).length).toBe(1);
      expect((await apiRequest(first.url, creds, '/api/accounts')).status).toBe(200);
      expect(await stop(first)).toBe(0);

      const second = await serve({ DATA_DIR: embeddedDir, ...env(creds) });
      const list = await apiRequest(second.url, creds, '/api/accounts');
      expect(list.body.data.map((a: { name: string }) => a.name)).toEqual(['Embedded']);
      // SIGKILL leaves PostgreSQL behind; the next start takes the data directory back.
      second.child.kill('SIGKILL');
      await second.exited;
      const third = await serve({ DATA_DIR: embeddedDir, ...env(creds) });
      expect((await apiRequest(third.url, creds, '/api/accounts')).body.data).toHaveLength(1);
      expect(await stop(third)).toBe(0);
    } finally {
      await rm(embeddedDir, { recursive: true, force: true });
    }
  }, 120_000);
});

function env(creds: { key: string; secret: string }): Record<string, string> {
  return { INCOMING_API_KEY: creds.key, INCOMING_API_SECRET: creds.secret };
}
