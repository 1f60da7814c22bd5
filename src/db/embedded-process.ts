/**
 * The operating-system side of the embedded PostgreSQL: which processes belong to a cluster's data directory, stopping
 * what a killed run left behind, and a lock that lets one process at a time start (or take over) a cluster.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import type { Logger } from '../shared/logger.js';
import { StartupError } from '../shared/errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** /proc tells which process works in which directory (Linux); elsewhere a live pid is taken at its word. */
const HAS_PROC = existsSync('/proc/self/cwd');

/** Whether `pid` names a process at all, a zombie included: what PostgreSQL checks a postmaster.pid with. */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function isAlive(pid: number): boolean {
  if (!exists(pid)) return false;
  // A zombie still answers kill(0): look at its state letter.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

function realpathOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * Whether `pid` is a PostgreSQL process running in `pgdata`. PostgreSQL's postmaster and each of its backends chdir
 * into the data directory, so /proc/<pid>/cwd names it, and they are all the `postgres` executable (backends are forked,
 * not exec'd), so /proc/<pid>/comm says `postgres`. A pid read from a stale postmaster.pid may belong to any process
 * by now (after a reboot or a container restart the numbers are handed out again), and an operator's shell, `tail` or
 * editor may be working in the data directory: such a process must be neither signalled nor waited for.
 */
function worksIn(pid: number, pgdata: string): boolean {
  if (!isAlive(pid)) return false;
  if (!HAS_PROC) return true;
  try {
    return readlinkSync(`/proc/${pid}/cwd`) === realpathOrSelf(pgdata) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
  } catch {
    return false; // gone meanwhile, or another user's process: not one of ours
  }
}

/**
 * The running postmaster of the cluster, if any: its pid and port (from postmaster.pid). A postmaster.pid whose pid
 * exists but is no live postmaster of this cluster is removed: PostgreSQL would otherwise refuse to start ("lock file
 * already exists") for as long as that process exists — an unrelated one that got the pid, or the killed postmaster
 * itself as a zombie nobody reaps (its parent, our killed process, is gone; in a container, PID 1 may not reap it).
 */
export async function runningPostmaster(pgdata: string, log: Logger): Promise<{ pid: number; port: number } | null> {
  const pidFile = path.join(pgdata, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (worksIn(pid, pgdata)) return { pid, port };
  if (exists(pid)) {
    log.warn({ pid, pidFile }, 'stale postmaster.pid names a process that is not this PostgreSQL; removing it');
    await unlink(pidFile).catch(() => undefined);
  }
  return null;
}

/** Sends `signal` to `pids` and waits until they are gone. */
async function stopAll(pids: number[], signal: NodeJS.Signals, what: string): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 30_000;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) throw new StartupError(`${what} (pid ${pids.filter(isAlive).join(', ')}) did not stop; stop it and retry`);
    await sleep(100);
  }
}

/** Stops a postmaster (fast shutdown) and waits for it to exit. */
export async function stopPostmaster(pid: number): Promise<void> {
  await stopAll([pid], 'SIGINT', 'embedded PostgreSQL');
}

/** The processes working in `pgdata` (a postmaster and its backends; Linux only, else none are known). */
export function processesIn(pgdata: string): number[] {
  if (!HAS_PROC) return [];
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => pid !== process.pid && worksIn(pid, pgdata));
}

/**
 * Kills what is left of a cluster whose postmaster is dead: its backends notice that only between statements, and a
 * backend still running a query (or stuck) keeps the shared memory attached, so PostgreSQL refuses to start ("pre-existing
 * shared memory block is still in use") until it ends. Only call this when no postmaster of `pgdata` runs.
 */
export async function killOrphanedBackends(pgdata: string, log: Logger): Promise<void> {
  const orphans = processesIn(pgdata);
  if (orphans.length === 0) return;
  log.warn({ pids: orphans }, 'killing leftover processes of the embedded PostgreSQL (their postmaster is gone)');
  await stopAll(orphans, 'SIGKILL', 'leftover embedded PostgreSQL processes');
}

/**
 * Runs `fn` while holding the start lock of `pgdata`: processes started together on one DATA_DIR (two servers, the
 * server and the CLI) take turns to initialise, start or take over its cluster, instead of racing initdb and the
 * postmaster.pid. The lock is an abstract Unix socket named after the directory (Linux): the kernel releases it when
 * its holder dies, however it dies, so a killed process never leaves a stale lock behind. Elsewhere there is none.
 */
export async function withStartLock<T>(pgdata: string, log: Logger, fn: () => Promise<T>): Promise<T> {
  if (process.platform !== 'linux') return fn();
  const name = `\0incoming-embedded-pg-${createHash('sha256').update(realpathOrSelf(pgdata)).digest('hex').slice(0, 32)}`;
  const server = createServer();
  server.unref();
  for (let waited = 0; ; waited += 200) {
    const taken = await new Promise<boolean>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(false) : reject(err));
      server.once('error', onError);
      server.listen({ path: name }, () => {
        server.removeListener('error', onError);
        resolve(true);
      });
    });
    if (taken) break;
    if (waited === 1000) log.info({ pgdata }, 'another process is starting the embedded PostgreSQL; waiting for it');
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    await new Promise<void>((resolve) => (server as Server).close(() => resolve()));
  }
}
