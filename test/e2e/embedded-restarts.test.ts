/**
 * The embedded PostgreSQL (DATABASE_URL unset) across the ways real starts go wrong, with `bin/incoming.js serve` as
 * a child process: a first start that cannot listen, a stale postmaster.pid whose pid another process has by now, a
 * backend left behind by a killed postmaster, a first start killed during initdb or stopped by SIGTERM, and two servers
 * on one DATA_DIR.
 * After each, no PostgreSQL process of the data directory is left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, globSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/db/embedded.js';
import { processesIn } from '../../src/db/embedded-process.js';
import { expectEventually } from '../support/eventually.js';
import { apiRequest, newCredentials, ROOT, spawnServer, type SpawnedServer } from '../support/server.js';

const dirs: string[] = [];
const running: SpawnedServer[] = [];
const children: ChildProcess[] = [];

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'incoming-emb-restart-'));
  await chmod(dir, 0o711);
  dirs.push(dir);
  return dir;
}

async function serve(dir: string, env: Record<string, string> = {}): Promise<SpawnedServer> {
  const s = await spawnServer({ DATA_DIR: dir, SYNC_ENABLED: 'false', ...env });
  running.push(s);
  return s;
}

async function stop(s: SpawnedServer): Promise<number | NodeJS.Signals> {
  s.child.kill('SIGTERM');
  return s.exited;
}

/** `serve` in its own process group (initdb is killed with it), not waited for: it is stopped while starting. */
async function starting(dir: string) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/incoming.js'), 'serve'], {
    cwd: ROOT,
    detached: true,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', DATA_DIR: dir, PORT: String(await freePort()), HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

const owner = async (dir: string) => Number((await readFile(path.join(dir, 'postgres.owner'), 'utf8')).split('\n')[0]);
const postmasterPid = async (dir: string) => Number((await readFile(path.join(dir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);

afterAll(async () => {
  for (const s of running) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  await Promise.all(running.map((s) => s.exited));
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const dir of dirs) {
    for (const pid of processesIn(path.join(dir, 'postgres'))) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

describe('embedded PostgreSQL restarts', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await dataDir();
  });
  /** The later tests use the cluster the first one initialised (run alone, they initialise it first). */
  const ensureCluster = async () => {
    if (!existsSync(path.join(dir, 'postgres', 'PG_VERSION'))) expect(await stop(await serve(dir))).toBe(0);
  };

  it('a first start whose port is taken says so, stops its PostgreSQL, and the next start still shows a key', async () => {
    // Accepts and drops connections: the port is taken, and /healthz never answers there.
    const blocker = net.createServer((socket) => socket.destroy());
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)));
    try {
      const failed = await serve(dir, { PORT: String(port) }).then(
        () => null,
        (e: Error) => e.message,
      );
      expect(failed).toMatch(/exited \(1\)/);
      expect(failed).toContain(`Cannot listen on 127.0.0.1:${port} (HOST:PORT): the port is already in use`);
      expect(failed).not.toMatch(/\n\s+at /); // no stack trace
    } finally {
      blocker.close();
    }
    expect(processesIn(path.join(dir, 'postgres'))).toEqual([]);
    // That start had created the initial key but could not show it: the next one creates (and shows) it.
    const next = await serve(dir);
    const key = /X-API-Key:\s+(\S+)/.exec(next.output())?.[1];
    const secret = /X-API-Secret:\s+(\S+)/.exec(next.output())?.[1];
    expect(key && secret).toBeTruthy();
    expect((await apiRequest(next.url, { key: key!, secret: secret! }, '/api/auth/validate', { method: 'POST' })).status).toBe(200);
    expect(await stop(next)).toBe(0);
    expect(processesIn(path.join(dir, 'postgres'))).toEqual([]);
  }, 120_000);

  it('a stale postmaster.pid naming a live, unrelated process: that process is left alone and the start succeeds', async () => {
    // A pid from before a reboot, handed to another process since.
    await ensureCluster();
    const bystander = spawn('sleep', ['120'], { stdio: 'ignore' });
    const signalled = new Promise<string | null>((resolve) => bystander.on('exit', (_c, sig) => resolve(sig)));
    try {
      const pidFile = path.join(dir, 'postgres', 'postmaster.pid');
      await writeFile(pidFile, `${bystander.pid}\n${path.join(dir, 'postgres')}\n1700000000\n5432\n\n127.0.0.1\n  1234567     7\nready   \n`);
      const s = await serve(dir);
      expect((await apiRequest(s.url, false, '/readyz')).status).toBe(200);
      expect(s.output()).toContain('stale postmaster.pid');
      expect(bystander.exitCode).toBeNull();
      expect(bystander.signalCode).toBeNull();
      expect(await stop(s)).toBe(0);
    } finally {
      bystander.kill('SIGKILL');
      expect(await signalled).toBe('SIGKILL'); // ours: nothing else signalled it
    }
  }, 120_000);

  it('a process that works in the data directory but is no PostgreSQL (an operator\'s shell) is left alone', async () => {
    // A start without a running postmaster kills the cluster's leftover backends: only those, not whatever has its
    // working directory there (a shell, `tail`, an editor).
    await ensureCluster();
    const bystander = spawn('sleep', ['120'], { cwd: path.join(dir, 'postgres'), stdio: 'ignore' });
    const signalled = new Promise<string | null>((resolve) => bystander.on('exit', (_c, sig) => resolve(sig)));
    try {
      const s = await serve(dir);
      expect((await apiRequest(s.url, false, '/readyz')).status).toBe(200);
      expect(bystander.exitCode).toBeNull();
      expect(bystander.signalCode).toBeNull();
      expect(await stop(s)).toBe(0);
      expect(processesIn(path.join(dir, 'postgres'))).toEqual([]);
    } finally {
      bystander.kill('SIGKILL');
      expect(await signalled).toBe('SIGKILL'); // ours: nothing else signalled it
    }
  }, 120_000);

  /**
   * Stops (SIGSTOP) one backend of the running cluster: a backend that does not notice its postmaster died (busy in a
   * long query, or stuck) keeps the shared memory attached.
   */
  async function stopOneBackend(): Promise<{ pgdata: string; postmaster: number; backend: number }> {
    const pgdata = path.join(dir, 'postgres');
    const postmaster = await postmasterPid(dir);
    const backend = processesIn(pgdata).find((pid) => pid !== postmaster)!;
    process.kill(backend, 'SIGSTOP');
    return { pgdata, postmaster, backend };
  }

  it('a backend left behind by a killed postmaster does not keep the next start from running', async () => {
    await ensureCluster();
    const s = await serve(dir);
    const { pgdata, postmaster, backend } = await stopOneBackend();
    s.child.kill('SIGKILL');
    await s.exited;
    process.kill(postmaster, 'SIGKILL');
    await expectEventually(() => expect(processesIn(pgdata)).not.toContain(postmaster), { timeoutMs: 10_000 });
    const next = await serve(dir);
    expect((await apiRequest(next.url, false, '/readyz')).status).toBe(200);
    expect(processesIn(pgdata)).not.toContain(backend);
    expect(await stop(next)).toBe(0);
    expect(processesIn(pgdata)).toEqual([]);
  }, 120_000);

  it('a postmaster killed under the running server, with a backend that does not notice: restarted all the same', async () => {
    await ensureCluster();
    const s = await serve(dir);
    const { pgdata, postmaster, backend } = await stopOneBackend();
    process.kill(postmaster, 'SIGKILL');
    // The backends still running answer /readyz until they notice their postmaster died: the restart first, then ready.
    await expectEventually(() => expect(s.output()).toContain('embedded PostgreSQL restarted'), { timeoutMs: 60_000, intervalMs: 200 });
    await expectEventually(async () => expect((await apiRequest(s.url, false, '/readyz')).status).toBe(200), { timeoutMs: 30_000, intervalMs: 200 });
    expect(processesIn(pgdata)).not.toContain(backend);
    expect(await stop(s)).toBe(0);
  }, 120_000);

  it('two servers on one DATA_DIR: both start, and the one left keeps its database when the other stops or dies', async () => {
    await ensureCluster();
    const creds = newCredentials();
    const env = { INCOMING_API_KEY: creds.key, INCOMING_API_SECRET: creds.secret };
    const [a, b] = await Promise.all([serve(dir, env), serve(dir, env)]);
    for (const s of [a, b]) expect((await apiRequest(s.url, false, '/readyz')).status).toBe(200);
    const created = await apiRequest(a.url, creds, '/api/accounts', {
      method: 'POST',
      json: { name: 'Shared', email: 's@example.com', host: '127.0.0.1', port: 143, username: 's', password: 'pw', encryption: 'none' },
    });
    expect(created.status).toBe(201);
    const [first, second] = (await owner(dir)) === a.child.pid ? [a, b] : [b, a];
    expect(await stop(first)).toBe(0);
    await expectEventually(async () => expect((await apiRequest(second.url, creds, '/api/accounts')).body?.data).toHaveLength(1), { timeoutMs: 30_000, intervalMs: 200 });
    // A third joins, and the owner now is killed instead: the third takes over.
    const third = await serve(dir, env);
    second.child.kill('SIGKILL');
    await second.exited;
    // Its postmaster runs on unsupervised (and answers meanwhile) until the third stops it and starts its own (7 s for
    // the whole case on a quiet machine; over 30 s once with the machine's two cores loaded by other suites).
    await expectEventually(async () => expect(await owner(dir)).toBe(third.child.pid), { timeoutMs: 90_000, intervalMs: 200 });
    await expectEventually(async () => expect((await apiRequest(third.url, creds, '/api/accounts')).body?.data).toHaveLength(1), { timeoutMs: 30_000, intervalMs: 200 });
    expect(await stop(third)).toBe(0);
    expect(processesIn(path.join(dir, 'postgres'))).toEqual([]);
  }, 180_000);

  it('a first start killed during initdb leaves no half-initialised cluster behind', async () => {
    const fresh = await dataDir();
    const { child, exited } = await starting(fresh);
    // initdb writes PG_VERSION first and then takes a second or more to bootstrap the cluster.
    await expectEventually(() => expect(globSync('postgres*/PG_VERSION', { cwd: fresh }).length).toBeGreaterThan(0), { timeoutMs: 60_000, intervalMs: 10 });
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    await expectEventually(() => expect(processesIn(path.join(fresh, 'postgres'))).toEqual([]), { timeoutMs: 10_000 });
    const s = await serve(fresh);
    expect((await apiRequest(s.url, false, '/readyz')).status).toBe(200);
    expect(s.output()).toContain('X-API-Secret');
    expect(await stop(s)).toBe(0);
    expect(existsSync(path.join(fresh, 'postgres', 'PG_VERSION'))).toBe(true);
    expect(globSync('postgres.init-*', { cwd: fresh })).toEqual([]);
  }, 120_000);

  it('SIGTERM during the first start stops it at its next step: exit 0, no PostgreSQL left running', async () => {
    const fresh = await dataDir();
    const { child, exited, output } = await starting(fresh);
    await expectEventually(() => expect(output()).toContain('initialising embedded PostgreSQL'), { timeoutMs: 60_000, intervalMs: 10 });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output()).toContain('start-up interrupted; stopped');
    expect(processesIn(path.join(fresh, 'postgres'))).toEqual([]);
    const s = await serve(fresh);
    expect((await apiRequest(s.url, false, '/readyz')).status).toBe(200);
    expect(await stop(s)).toBe(0);
  }, 120_000);
});
