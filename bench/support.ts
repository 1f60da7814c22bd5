/** Shared bench helpers: a database to run against, a spawned server, and an autocannon wrapper. */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { spawnServer, ROOT, type SpawnedServer } from '../test/support/server.js';

const exec = promisify(execFile);

export interface LoadResult {
  name: string;
  connections: number;
  rps: number;
  p50: number;
  /** Exact, from every response time (autocannon's own percentiles have no p95). */
  p95: number;
  p975: number;
  p99: number;
  errors: number;
}

/**
 * A fresh database on BENCH_DATABASE_URL's server (default: the local PostgreSQL). With `keep` (a database name), that
 * database is created only if missing and never dropped: `existed` says whether it was there already.
 */
export async function benchDatabase(keep?: string): Promise<{ url: string; existed: boolean; drop(): Promise<void> }> {
  const admin = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  if (keep !== undefined && !/^incoming_bench_\w+$/.test(keep)) throw new Error(`a kept bench database is named incoming_bench_<word>, not "${keep}"`);
  const name = keep ?? `incoming_bench_${Date.now().toString(36)}`;
  const run = async (sql: string) => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  let existed = false;
  await run(`CREATE DATABASE "${name}"`).catch((err: unknown) => {
    if (keep === undefined || (err as { code?: string }).code !== '42P04') throw err;
    existed = true; // duplicate_database: the kept one
  });
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return { url: u.toString(), existed, drop: () => (keep === undefined ? run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) : Promise.resolve()) };
}

/** Creates an API key with limits high enough not to interfere with the load. */
export async function benchKey(databaseUrl: string): Promise<{ key: string; secret: string }> {
  const { stdout } = await exec(process.execPath, [path.join(ROOT, 'bin/incoming.js'), 'keys', 'create', '--name', 'bench', '--permissions', 'read,write,send,admin', '--per-minute', '100000000', '--per-hour', '1000000000', '--json'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
  });
  const k = JSON.parse(stdout) as { publicKey: string; secret: string };
  return { key: k.publicKey, secret: k.secret };
}

export async function startBenchServer(databaseUrl: string, env: Record<string, string> = {}): Promise<SpawnedServer> {
  // BENCH_NODE_OPTIONS reaches the server process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.
  const nodeOptions: Record<string, string> = process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {};
  // BENCH_ENV_<NAME>=value reaches the server as <NAME>=value (e.g. BENCH_ENV_MALLOC_ARENA_MAX=2, BENCH_ENV_PARSER_WORKERS=2).
  const passed = Object.fromEntries(
    Object.entries(process.env).flatMap(([k, v]) => (k.startsWith('BENCH_ENV_') && v !== undefined ? [[k.slice('BENCH_ENV_'.length), v]] : [])),
  );
  return spawnServer({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', SYNC_ENABLED: 'false', DATA_DIR: path.join(ROOT, 'data', 'bench'), ...nodeOptions, ...passed, ...env });
}

/** Runs autocannon against one request for `seconds` at `connections`. */
export async function load(name: string, opts: { url: string; connections: number; seconds: number; method?: string; headers?: Record<string, string>; body?: string }): Promise<LoadResult> {
  const times: number[] = [];
  const r = await new Promise<autocannon.Result>((resolve, reject) => {
    const run = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        duration: opts.seconds,
        method: (opts.method ?? 'GET') as 'GET',
        headers: opts.headers,
        body: opts.body,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    run.on('response', (_client, _status, _bytes, ms) => times.push(ms));
  });
  times.sort((a, b) => a - b);
  const p95 = times.length ? Math.round(times[Math.min(times.length - 1, Math.floor(times.length * 0.95))]!) : 0;
  return { name, connections: opts.connections, rps: Math.round(r.requests.average), p50: r.latency.p50, p95, p975: r.latency.p97_5, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

export function printTable(rows: LoadResult[], baseline?: (r: LoadResult) => LoadResult | undefined): void {
  const lines = ['| request | conns | req/s | p50 ms | p95 ms | p97.5 ms | p99 ms | errors | req/s vs ceiling |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    const b = baseline?.(r);
    lines.push(`| ${r.name} | ${r.connections} | ${r.rps} | ${r.p50} | ${r.p95} | ${r.p975} | ${r.p99} | ${r.errors} | ${b ? `${((r.rps / b.rps) * 100).toFixed(0)}%` : '—'} |`);
  }
  console.log(lines.join('\n'));
}

/** CPU seconds (user + system) per process group between `cpuSnapshot()` and `cpuSince()`; processes are read from /proc. */
export type CpuSnapshot = Map<number, { comm: string; ticks: number; title?: string }>;
const TICKS_PER_SECOND = 100;

async function readTicks(dir: string): Promise<CpuSnapshot> {
  const out: CpuSnapshot = new Map();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`${dir}/${name}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    // A PostgreSQL backend's title names its database ("postgres: user db 127.0.0.1(port) idle"): see cpuSince.
    const title = comm === 'postgres' ? ((await readFile(`${dir}/${name}/cmdline`, 'utf8').catch(() => '')) || undefined) : undefined;
    out.set(Number(name), { comm, ticks: Number(fields[11]) + Number(fields[12]), title });
  }
  return out;
}

export function cpuSnapshot(): Promise<CpuSnapshot> {
  return readTicks('/proc');
}

/** A process's threads (main thread, parser workers, libuv pool, V8 GC helpers), for `cpuSince` with threads. */
export function threadSnapshot(pid: number): Promise<CpuSnapshot> {
  return readTicks(`/proc/${pid}/task`);
}

/** CPU seconds per thread name of `pid` since `before`. */
export async function threadCpuSince(pid: number, before: CpuSnapshot): Promise<Record<string, number>> {
  return spentSince(before, await threadSnapshot(pid), new Map());
}

/**
 * CPU seconds spent since `before`, grouped: the given pids by name, then by command name (postgres, imap, …). With
 * `database`, the PostgreSQL backends connected to it are the group `database` rather than `postgres`: on a machine
 * shared with other PostgreSQL clusters and databases, `postgres` counts their work too.
 */
export async function cpuSince(before: CpuSnapshot, named: Record<string, number>, database?: string): Promise<Record<string, number>> {
  return spentSince(before, await cpuSnapshot(), new Map(Object.entries(named).map(([k, pid]) => [pid, k])), database);
}

/** CPU seconds between two snapshots, summed by `names` (id → group) or else by command name. */
function spentSince(before: CpuSnapshot, after: CpuSnapshot, names: Map<number, string>, database?: string): Record<string, number> {
  const groups: Record<string, number> = {};
  for (const [id, a] of after) {
    const spent = (a.ticks - (before.get(id)?.ticks ?? 0)) / TICKS_PER_SECOND;
    if (spent <= 0) continue;
    const ours = database !== undefined && a.title !== undefined && a.title.includes(` ${database} `);
    const group = names.get(id) ?? (ours ? 'database' : a.comm);
    groups[group] = (groups[group] ?? 0) + spent;
  }
  return groups;
}
