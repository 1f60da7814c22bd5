/**
 * `npm run bench:accounts` — many accounts' first syncs at once. BENCH_ACCOUNTS (default 40) mailboxes of
 * BENCH_PER_ACCOUNT (default 250) generated messages each are created inactive, then activated together; the sync
 * engine runs them side by side. Reported: time until every message is stored, messages/s, the server's peak RSS, and
 * with BENCH_LOAD=1 (default) the API's `GET /api/emails` at 32 connections during the syncs, against the same load on
 * the idle server before them (the ceiling). Run once per SYNC_INFLIGHT_MB value in BENCH_INFLIGHT (default "48").
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { generateMailbox } from '../test/fixtures/messages.js';
import { startDovecot } from '../test/support/dovecot.js';
import { fillMaildir } from '../test/support/maildir.js';
import { apiRequest, ROOT } from '../test/support/server.js';
import { benchDatabase, benchKey, load, printTable, startBenchServer, type LoadResult } from './support.js';

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 40);
const PER = Number(process.env.BENCH_PER_ACCOUNT ?? 250);
const WITH_LOAD = process.env.BENCH_LOAD !== '0';
const INFLIGHT = (process.env.BENCH_INFLIGHT ?? '48').split(',');
const MB = 1024 * 1024;

const status = async (pid: number, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const dovecot = await startDovecot();
const mailboxes: { user: string; password: string }[] = [];
let bytes = 0;
for (let i = 0; i < ACCOUNTS; i++) {
  const creds = await dovecot.createUser();
  const messages = generateMailbox(PER, i + 1);
  bytes += messages.reduce((s, m) => s + m.length, 0);
  await fillMaildir(dovecot.dir, creds.user, messages);
  mailboxes.push(creds);
}
console.log(`bench:accounts — ${ACCOUNTS} accounts × ${PER} messages (${(bytes / MB).toFixed(0)} MB)`);
const summary: string[] = [];
const loads: LoadResult[] = [];
try {
  for (const inflight of INFLIGHT) {
    const db = await benchDatabase();
    const dataDir = path.join(ROOT, 'data', `bench-accounts-${Date.now().toString(36)}`);
    const server = await startBenchServer(db.url, { SYNC_ENABLED: 'true', DATA_DIR: dataDir, SYNC_INFLIGHT_MB: inflight });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const key = await benchKey(db.url);
      const headers = { 'x-api-key': key.key, 'x-api-secret': key.secret };
      const ids: number[] = [];
      for (const [i, m] of mailboxes.entries()) {
        const json = { name: `Bench ${i}`, email: `bench${i}@example.com`, host: dovecot.host, port: dovecot.port, username: m.user, password: m.password, encryption: 'none' };
        const r = await apiRequest(server.url, key, '/api/accounts', { method: 'POST', json });
        if (r.status !== 201) throw new Error(r.text);
        ids.push(r.body.data.id);
      }
      const list = `${server.url}/api/emails?per_page=50`;
      if (WITH_LOAD) loads.push(await load(`GET /api/emails, idle server (ceiling), inflight ${inflight}`, { url: list, connections: 32, seconds: 10, headers }));
      const t = performance.now();
      await Promise.all(ids.map((id) => apiRequest(server.url, key, `/api/accounts/${id}`, { method: 'PUT', json: { is_active: true } })));
      if (WITH_LOAD) loads.push(await load(`GET /api/emails, during the syncs, inflight ${inflight}`, { url: list, connections: 32, seconds: 20, headers }));
      for (;;) {
        const n = Number((await client.query('SELECT count(*) AS n FROM emails')).rows[0].n);
        if (n >= ACCOUNTS * PER) break;
        if (performance.now() - t > 900_000) throw new Error(`only ${n} of ${ACCOUNTS * PER} messages stored after 15 minutes`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const s = (performance.now() - t) / 1000;
      summary.push(`| ${inflight} | ${WITH_LOAD ? 'yes (first 20 s)' : 'no'} | ${s.toFixed(1)} | ${Math.round((ACCOUNTS * PER) / s)} | ${Math.round(await status(server.child.pid!, 'VmHWM'))} MB |`);
    } finally {
      await client.end();
      server.child.kill('SIGTERM');
      await server.exited;
      await rm(dataDir, { recursive: true, force: true });
      await db.drop();
    }
  }
} finally {
  await dovecot.stop();
}
console.log('\n| SYNC_INFLIGHT_MB | API load | seconds until all stored | messages/s | peak RSS (server) |\n|---:|---|---:|---:|---:|');
console.log(summary.join('\n'));
if (loads.length > 0) {
  console.log('');
  printTable(loads, (r) => loads.find((x) => x.name === r.name.replace('during the syncs', 'idle server (ceiling)')));
}
