/**
 * `npm run bench:latency` — APPEND of a new message on the IMAP server → its `email.received` event committed in
 * PostgreSQL (observed through the outbox NOTIFY, which PostgreSQL delivers only after commit), p50/p95 over
 * BENCH_TRIALS (default 200) trials, against the raw IDLE notification latency measured on the same APPENDs by a
 * plain imapflow client idling on the same mailbox (Dovecot waits ~500 ms before notifying IDLE clients).
 */
import { ImapFlow } from 'imapflow';
import pg from 'pg';
import { startDovecot } from '../test/support/dovecot.js';
import { appendMessage, buildMessage } from '../test/support/imap.js';
import { apiRequest } from '../test/support/server.js';
import { benchDatabase, benchKey, startBenchServer } from './support.js';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 200);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

const dovecot = await startDovecot();
const db = await benchDatabase();
const server = await startBenchServer(db.url, { SYNC_ENABLED: 'true', SYNC_TICK_MS: '500' });
try {
  const creds = await dovecot.createUser();
  const key = await benchKey(db.url);
  const created = await apiRequest(server.url, key, '/api/accounts', {
    method: 'POST',
    json: { name: 'Latency', email: 'lat@example.com', host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true },
  });
  if (created.status !== 201) throw new Error(created.text);

  // Committed events, via the outbox's NOTIFY.
  const listener = new pg.Client({ connectionString: db.url });
  await listener.connect();
  await listener.query('LISTEN incoming_events');
  let onEvent: (() => void) | null = null;
  listener.on('notification', () => onEvent?.());

  // The raw reference: a bare IDLE client on the same mailbox.
  const raw = new ImapFlow({ host: dovecot.host, port: dovecot.port, secure: false, doSTARTTLS: false, auth: { user: creds.user, pass: creds.password }, logger: false });
  await raw.connect();
  await raw.mailboxOpen('INBOX');
  let onExists: (() => void) | null = null;
  raw.on('exists', () => onExists?.());
  void raw.idle();

  // Wait until the server's session is up (first message round-trips).
  const warm = new Promise<void>((r) => (onEvent = r));
  await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'warm-up' }));
  await warm;

  const rawMs: number[] = [];
  const productMs: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    await new Promise((r) => setTimeout(r, 600 + Math.random() * 200));
    const msg = buildMessage({ subject: `latency ${i}`, text: 'x'.repeat(2000) });
    let t0 = 0;
    const gotRaw = new Promise<number>((r) => (onExists = () => r(performance.now())));
    const gotEvent = new Promise<number>((r) => (onEvent = () => r(performance.now())));
    const appended = appendMessage(dovecot, creds, 'INBOX', msg).then(() => undefined);
    t0 = performance.now();
    const [tr, te] = await Promise.all([gotRaw, gotEvent, appended]);
    rawMs.push(tr - t0);
    productMs.push(te - t0);
    onExists = null;
    onEvent = null;
  }
  await raw.logout();
  await listener.end();
  console.log(`bench:latency — ${TRIALS} trials (APPEND → …), ms\n`);
  console.log('| measure | p50 | p95 | max |\n|---|---:|---:|---:|');
  console.log(`| raw IDLE notification (imapflow) | ${pct(rawMs, 50).toFixed(0)} | ${pct(rawMs, 95).toFixed(0)} | ${Math.max(...rawMs).toFixed(0)} |`);
  console.log(`| email.received committed (Incoming) | ${pct(productMs, 50).toFixed(0)} | ${pct(productMs, 95).toFixed(0)} | ${Math.max(...productMs).toFixed(0)} |`);
  const over = productMs.map((p, i) => p - rawMs[i]!);
  console.log(`| Incoming above raw, paired | ${pct(over, 50).toFixed(0)} | ${pct(over, 95).toFixed(0)} | ${Math.max(...over).toFixed(0)} |`);
  console.log(`\ntarget: p50 under 100 ms above raw → ${pct(over, 50) < 100 ? 'met' : 'NOT met'}`);
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  await dovecot.stop();
  await db.drop();
}
