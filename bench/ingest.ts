/**
 * `npm run bench:ingest` — full first sync of a private Dovecot mailbox (default 10,000 generated messages: most under
 * 10 KB, ~10% with 20 KB–2 MB attachments) until every message is queryable, against three references measured in the
 * same run on the same mailbox: (1) imapflow fetching every source with no processing (the IMAP ceiling),
 * (2) mailparser alone over the same sources on one core, (3) a naive loop: fetch → parse → one batched INSERT per
 * 500 messages, no concurrency. Reports messages/s, MB/s and the server's peak RSS, for the server's default memory
 * settings (4) and its low-memory setting (4b, INCOMING_SEMI_SPACE_MB=2).
 */
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { Readable } from 'node:stream';
import { MailParser } from 'mailparser';
import pg from 'pg';
import { generateMailbox } from '../test/fixtures/messages.js';
import { startDovecot } from '../test/support/dovecot.js';
import { fillMaildir } from '../test/support/maildir.js';
import { withImap } from '../test/support/imap.js';
import path from 'node:path';
import { apiRequest, ROOT } from '../test/support/server.js';
import { benchDatabase, benchKey, cpuSince, cpuSnapshot, startBenchServer, threadCpuSince, threadSnapshot } from './support.js';

const N = Number(process.env.BENCH_MESSAGES ?? 10_000);
const MB = 1024 * 1024;
const cpuLines: string[] = [];

/** Parses one message with the streaming MailParser, draining attachments (what every variant must at least do). */
function parseOnly(raw: Buffer): Promise<{ subject: string; text: string }> {
  return new Promise((resolve, reject) => {
    const p = new MailParser({ skipImageLinks: true, skipTextLinks: true, checksumAlgo: false });
    let subject = '';
    let text = '';
    p.on('headers', (h) => (subject = String(h.get('subject') ?? '')));
    p.on('data', (d) => {
      if (d.type === 'text') text = d.text ?? '';
      else {
        d.content.on('data', () => undefined);
        d.content.on('end', () => d.release?.());
      }
    });
    p.on('error', reject);
    p.on('end', () => resolve({ subject, text }));
    Readable.from([raw]).pipe(p);
  });
}

function row(name: string, ms: number, count: number, bytes: number, rss?: number) {
  return { name, seconds: (ms / 1000).toFixed(2), msgs: Math.round(count / (ms / 1000)), mbps: (bytes / MB / (ms / 1000)).toFixed(1), rss: rss ? `${Math.round(rss / MB)} MB` : '—' };
}

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

const messages = generateMailbox(N, 1);
const totalBytes = messages.reduce((s, m) => s + m.length, 0);
console.log(`bench:ingest — ${N} messages, ${(totalBytes / MB).toFixed(0)} MB, machine: ${os.cpus().length} cores`);
const dovecot = await startDovecot();
const db = await benchDatabase();
try {
  const creds = await dovecot.createUser();
  await fillMaildir(dovecot.dir, creds.user, messages);
  const results = [];

  // BENCH_REFERENCES=0 skips (1)–(3): for comparing server settings only (no ratios are printed then).
  const references = process.env.BENCH_REFERENCES !== '0';
  // (1) IMAP ceiling: every source fetched, nothing done with it. Run twice; the first warms Dovecot's index.
  for (let pass = 0; references && pass < 2; pass++) {
    const t = performance.now();
    let count = 0;
    await withImap(dovecot, creds, async (c) => {
      await c.mailboxOpen('INBOX');
      for await (const m of c.fetch('1:*', { uid: true, source: true })) if (m.source) count++;
    });
    if (pass === 1) results.push(row('(1) imapflow fetch only (ceiling)', performance.now() - t, count, totalBytes));
  }

  // (2) mailparser alone, one core, sources already in memory.
  if (references) {
    const t = performance.now();
    for (const m of messages) await parseOnly(m);
    results.push(row('(2) mailparser alone, 1 core', performance.now() - t, N, totalBytes));
  }

  // (3) naive: fetch 500 → parse each → one INSERT per 500, sequential.
  if (references) {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query('CREATE TABLE naive (uid int PRIMARY KEY, subject text, body text)');
    const t = performance.now();
    let count = 0;
    await withImap(dovecot, creds, async (c) => {
      await c.mailboxOpen('INBOX');
      const uids = (await c.search({ all: true }, { uid: true })) || [];
      for (let i = 0; i < uids.length; i += 500) {
        const batch = await c.fetchAll(uids.slice(i, i + 500).join(','), { uid: true, source: true }, { uid: true });
        const rows = [];
        for (const m of batch) rows.push({ uid: m.uid, ...(await parseOnly(m.source!)) });
        await client.query('INSERT INTO naive SELECT * FROM unnest($1::int[], $2::text[], $3::text[])', [rows.map((r) => r.uid), rows.map((r) => r.subject), rows.map((r) => r.text.replace(/\0/g, ''))]);
        count += rows.length;
      }
    });
    results.push(row('(3) naive loop (fetch → parse → INSERT/500)', performance.now() - t, count, totalBytes));
    await client.end();
  }

  // (4) the product: a full first sync through the API, until every message is stored and queryable — with the default
  // memory settings, and (4b) with the low-memory young generation (INCOMING_SEMI_SPACE_MB=2, see bin/incoming.js).
  // PARSER_WORKERS, when set, reaches the server (to compare pool sizes).
  const workers: Record<string, string> = process.env.PARSER_WORKERS ? { PARSER_WORKERS: process.env.PARSER_WORKERS } : {};
  // BENCH_VARIANTS=4 or 4b runs only that one.
  const variants = ([
    ['(4) Incoming first sync (API, until queryable)', {}],
    ['(4b) the same, INCOMING_SEMI_SPACE_MB=2', { INCOMING_SEMI_SPACE_MB: '2' }],
  ] as [string, Record<string, string>][]).filter(([name]) => !process.env.BENCH_VARIANTS || process.env.BENCH_VARIANTS.split(',').some((v) => name.startsWith(`(${v})`)));
  for (const [name, env] of variants) {
    // A new, empty blob store: blobs left by an earlier run would turn every write into a cheaper deduplication (and
    // deleting them first would leave ext4 scanning past thousands of just-freed inodes on every create).
    const dataDir = path.join(ROOT, 'data', `bench-ingest-${Date.now().toString(36)}`);
    // And a database of its own: the same sources stored again would be cheaper upserts.
    const vdb = await benchDatabase();
    const server = await startBenchServer(vdb.url, { SYNC_ENABLED: 'false', DATA_DIR: dataDir, ...workers, ...env }).catch(async (err: unknown) => {
      await vdb.drop();
      throw err;
    });
    try {
      const key = await benchKey(vdb.url);
      const created = await apiRequest(server.url, key, '/api/accounts', {
        method: 'POST',
        json: { name: 'Bench', email: 'bench@example.com', host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none' },
      });
      const cpu = await cpuSnapshot();
      const threads = await threadSnapshot(server.child.pid!);
      const t = performance.now();
      const r = await apiRequest(server.url, key, `/api/accounts/${created.body.data.id}/sync`, { method: 'POST' });
      const ms = performance.now() - t;
      const spent = await cpuSince(cpu, { server: server.child.pid!, bench: process.pid });
      const byThread = Object.entries(await threadCpuSince(server.child.pid!, threads)).sort((a, b) => b[1] - a[1]);
      const top = Object.entries(spent).sort((a, b) => b[1] - a[1]).filter(([, s]) => s >= 0.05);
      cpuLines.push(`${name} — CPU seconds (${(ms / 1000).toFixed(1)} s wall, ${(os.cpus().length * ms / 1000).toFixed(1)} available): ${top.map(([k, s]) => `${k} ${s.toFixed(1)}`).join(', ')}; server threads: ${byThread.map(([k, s]) => `${k} ${s.toFixed(1)}`).join(', ')}`);
      if (r.status !== 200 || r.body.data.new !== N) throw new Error(`sync did not store every message: ${r.text}`);
      results.push(row(name, ms, N, totalBytes, await peakRss(server.child.pid!)));
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await rm(dataDir, { recursive: true, force: true });
      await vdb.drop();
    }
  }

  console.log('\n| variant | seconds | messages/s | MB/s | peak RSS (server) |\n|---|---:|---:|---:|---:|');
  for (const r of results) console.log(`| ${r.name} | ${r.seconds} | ${r.msgs} | ${r.mbps} | ${r.rss} |`);
  console.log(`\n${cpuLines.join('\n')}`);
  const naive = results[2]!;
  for (const product of references ? results.slice(3) : []) {
    console.log(`\n${product.name}: ${(product.msgs / naive.msgs).toFixed(2)}× the naive loop (target ≥ 2×), ${((product.msgs / results[0]!.msgs) * 100).toFixed(0)}% of the IMAP ceiling, peak RSS ${product.rss} (target < 300 MB)`);
  }
} finally {
  await dovecot.stop();
  await db.drop();
}
