/**
 * `npm run bench:api` — the read API at 100,000 emails. Seeds the database directly (realistic sizes: subjects of a
 * few words, bodies of ~0.5–6 KB drawn from a Zipf-like vocabulary so some words occur in 5–50% of emails and others
 * are rare; ~10% of emails with 1–3 attachments; a few categories), then loads each endpoint with autocannon on
 * loopback at concurrency 1 and 32 (after an unmeasured 2 s warm-up of each), and measures in the same run the raw SQL
 * of the same page (pg, no HTTP, no auth, no COUNT), which is the ceiling the API is compared with — and the raw page
 * followed by its COUNT(*), since the response also carries the total (which the API caches per outbox generation,
 * see count-cache.ts).
 *
 * BENCH_EMAILS (default 100000), BENCH_SECONDS per case (default 5), BENCH_CONNECTIONS (default "1,32"), BENCH_CASES (only
 * the cases whose name contains one of these comma-separated strings, e.g. "GET /api/emails?folder" — to profile one),
 * BENCH_KEEP_DB (a database name `incoming_bench_<word>`: seeded on the first run, reused as it is by the next ones and
 * never dropped — seeding takes minutes; drop it yourself when done).
 */
import pg from 'pg';
import { benchDatabase, benchKey, cpuSince, cpuSnapshot, load, startBenchServer, type LoadResult } from './support.js';
import { seedEmails, vocabulary } from './seed-emails.js';

const N = Number(process.env.BENCH_EMAILS ?? 100_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connectionCounts = (process.env.BENCH_CONNECTIONS ?? '1,32').split(',').map(Number);
const only = process.env.BENCH_CASES?.split(',');
const WARMUP_SECONDS = 2;

interface Case {
  name: string;
  path: string;
  method?: string;
  body?: string;
  /** The same page in raw SQL (the ceiling). */
  sql?: Query[];
  /** Its total (the response carries `meta.total`): measured as `sql` followed by this COUNT(*). */
  count?: Query;
}

type Query = { text: string; values: unknown[] };

/** Latency percentiles of running `queries` (one "request" = all of them in sequence) `connections` at a time. */
async function rawSql(pool: pg.Pool, queries: Query[], connections: number, ms: number): Promise<{ p50: number; p95: number; rps: number }> {
  const samples: number[] = [];
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = await pool.connect();
      try {
        while (performance.now() < end) {
          const t = performance.now();
          for (const q of queries) await client.query(q);
          samples.push(performance.now() - t);
        }
      } finally {
        client.release();
      }
    }),
  );
  samples.sort((a, b) => a - b);
  const at = (p: number) => Math.round(samples[Math.min(samples.length - 1, Math.floor(samples.length * p))]! * 10) / 10;
  return { p50: at(0.5), p95: at(0.95), rps: Math.round(samples.length / (ms / 1000)) };
}

const LIST_COLUMNS = `id, account_id, uid, message_id, folder, from_address, from_name, to_addresses, cc_addresses, reply_to, subject,
  received_at, read_at, is_read, is_starred, is_archived, has_attachments, attachment_count, created_at, updated_at`;
/** The page's rows alone (the ceiling), and its COUNT(*): the API also reports the total, counted only after a change. */
const page = (where: string, order: string, values: unknown[] = []) => ({
  sql: [{ text: `SELECT ${LIST_COLUMNS} FROM emails ${where} ORDER BY ${order} LIMIT 50`, values }],
  count: { text: `SELECT count(*) FROM emails ${where}`, values },
});

const words = vocabulary();
// Common words: found in 5–50% of emails (see seed-emails.ts); rare: one email, or well under 1%. Measured as one mix.
const common = [words[40]!, words[100]!, words[300]!, words[1000]!];
const rare = [`ref${Math.ceil(N / 3)}`, `ref${N}`, words[15000]!, `${words[5000]!} ${words[12000]!}`];

const db = await benchDatabase(process.env.BENCH_KEEP_DB);
const server = await startBenchServer(db.url, { SYNC_ENABLED: 'false' });
// Idle clients are kept until the end (pg-pool closes them after 10 s by default): 32 backends exiting at once, each
// with ~150 MB of touched memory, took ~1 s of kernel time on both cores, a stall in whichever case was running then.
const pool = new pg.Pool({ connectionString: db.url, max: 32, idleTimeoutMillis: 0 });
try {
  const { key, secret } = await benchKey(db.url);
  const t = performance.now();
  if (db.existed) {
    // The search terms (ref<N>) and the shares below assume the database holds exactly BENCH_EMAILS emails.
    const held = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM emails')).rows[0]!.n;
    if (held !== N) throw new Error(`${process.env.BENCH_KEEP_DB} holds ${held} emails, not BENCH_EMAILS=${N}: drop it or set BENCH_EMAILS=${held}`);
    console.log(`reusing ${process.env.BENCH_KEEP_DB} (${held} emails)`);
  } else {
    const seeded = await seedEmails(db.url, N, words);
    console.log(`seeded ${N} emails (${seeded.attachments} attachments, ${(seeded.bytes / 1024 / 1024).toFixed(0)} MB of text) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const freq = await pool.query<{ w: string; pct: string }>(
    `SELECT w, round(100.0 * (SELECT count(*) FROM emails WHERE search_vector @@ plainto_tsquery('incoming_fts', w)) / $2, 1) AS pct FROM unnest($1::text[]) AS w`,
    [[...common, ...rare], N],
  );
  console.log(`search terms (share of emails matching): ${freq.rows.map((r) => `${r.w} ${r.pct}%`).join(', ')}`);

  const auth = { 'x-api-key': key, 'x-api-secret': secret };
  const gql = JSON.stringify({
    query: `query { emails(perPage: 50) { totalCount nodes { id subject fromAddress receivedAt isRead attachments { id filename mimeType fileSize } categories { id name slug } } } }`,
  });
  const cases: Case[] = [
    { name: 'GET /api/emails', path: '/api/emails', ...page('', 'received_at DESC, id DESC') },
    {
      name: 'GET /api/emails?folder=INBOX&is_read=0',
      path: '/api/emails?folder=INBOX&is_read=0',
      ...page('WHERE folder = $1 AND is_read = false', 'received_at DESC, id DESC', ['INBOX']),
    },
    { name: 'GET /api/emails?sort=subject&order=asc', path: '/api/emails?sort=subject&order=asc', ...page('', "left(coalesce(subject, ''), 256) ASC, id ASC") },
    ...[...common, ...rare].map((q, i) => ({
      name: `GET /api/emails/search ${i < common.length ? 'common' : 'rare'} "${q}"`,
      path: `/api/emails/search?q=${encodeURIComponent(q)}`,
    })),
    { name: 'POST /graphql emails(50) + attachments + categories', path: '/graphql', method: 'POST', body: gql },
  ];
  const rows: string[] = [
    '| request | conns | req/s | p50 ms | p95 ms | p97.5 ms | p99 ms | errors | CPU ms/request: server / PostgreSQL | raw page SQL p50 / p95 ms | p50 vs raw SQL | raw page + COUNT p50 / p95 ms | p50 vs raw + COUNT |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const connections of connectionCounts) {
    for (const c of cases.filter((x) => !only || only.some((o) => x.name.includes(o)))) {
      const headers = { ...auth, ...(c.body ? { 'content-type': 'application/json' } : {}) };
      // Unmeasured warm-up: the first seconds of a route include V8's optimisation of its code and, at concurrency 32,
      // new PostgreSQL connections (each backend loads its catalog caches), which are not the steady state measured.
      await load(c.name, { url: `${server.url}${c.path}`, connections, seconds: WARMUP_SECONDS, method: c.method, headers, body: c.body });
      const cpu = await cpuSnapshot();
      const r: LoadResult = await load(c.name, { url: `${server.url}${c.path}`, connections, seconds, method: c.method, headers, body: c.body });
      // PostgreSQL: the backends of the bench's database only (the server's pool; the raw SQL runs after).
      const spent = await cpuSince(cpu, { server: server.child.pid! }, new URL(db.url).pathname.slice(1));
      const perRequest = (s: number | undefined) => (((s ?? 0) * 1000) / Math.max(1, r.rps * seconds)).toFixed(1);
      const raw = c.sql ? await rawSql(pool, c.sql, connections, seconds * 1000) : null;
      const counted = c.sql && c.count ? await rawSql(pool, [...c.sql, c.count], connections, seconds * 1000) : null;
      const vs = (x: { p50: number; p95: number } | null) => (x ? `${x.p50} / ${x.p95} | ${(r.p50 / Math.max(x.p50, 0.1)).toFixed(1)}×` : '— | —');
      rows.push(`| ${r.name} | ${connections} | ${r.rps} | ${r.p50} | ${r.p95} | ${r.p975} | ${r.p99} | ${r.errors} | ${perRequest(spent.server)} / ${perRequest(spent.database)} | ${vs(raw)} | ${vs(counted)} |`);
    }
  }
  console.log(`\nbench:api — ${N} emails, ${seconds}s per case, server, database and load generator on this machine (loopback)\n`);
  console.log(rows.join('\n'));
} finally {
  await pool.end();
  server.child.kill('SIGTERM');
  await server.exited;
  await db.drop();
}
