/**
 * `npm run bench:latency` — APPEND of a new message on the IMAP server → its `email.received` event committed in
 * PostgreSQL (observed through the outbox NOTIFY, which PostgreSQL delivers only after commit), p50/p95 over
 * BENCH_TRIALS (default 200) trials, against the raw IDLE notification latency measured on the same APPENDs by a
 * plain imapflow client idling on the same mailbox (Dovecot waits ~500 ms before notifying IDLE clients).
 *
 * BENCH_MAILBOX (default 0): messages already in the mailbox (small ones, written into the Maildir and synced before
 * the trials), to measure the same latency on a large folder, e.g. BENCH_MAILBOX=100000. After the trials, with
 * Incoming stopped, a plain client times NOOP + UID FETCH of each of 20 new messages: what the IMAP server itself costs
 * to hand one over (on a large Maildir, much more than on a small one).
 */
import { ImapFlow } from 'imapflow';
import pg from 'pg';
import { startDovecot } from '../test/support/dovecot.js';
import { appendMessage, buildMessage, withImap } from '../test/support/imap.js';
import { fillMaildir } from '../test/support/maildir.js';
import { apiRequest } from '../test/support/server.js';
import { benchDatabase, benchKey, startBenchServer } from './support.js';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 200);
const MAILBOX = Number(process.env.BENCH_MAILBOX ?? 0);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

const dovecot = await startDovecot();
const db = await benchDatabase();
const server = await startBenchServer(db.url, { SYNC_ENABLED: 'true', SYNC_TICK_MS: '500' });
try {
  const creds = await dovecot.createUser();
  if (MAILBOX > 0) {
    const filler = Array.from({ length: MAILBOX }, (_, i) => Buffer.from(buildMessage({ subject: `old ${i}`, text: `message ${i} `.repeat(20) })));
    await fillMaildir(dovecot.dir, creds.user, filler);
  }
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

  if (MAILBOX > 0) {
    const started = performance.now();
    for (;;) {
      const { rows } = await listener.query('SELECT count(*)::int AS n FROM emails');
      if (rows[0].n >= MAILBOX) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    console.log(`first sync of ${MAILBOX} messages: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }

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
  server.child.kill('SIGTERM');
  await server.exited;
  // What the IMAP server itself costs to hand over a new message (the server stopped, nothing else running): APPEND,
  // then a plain client's NOOP (which sees it) and UID FETCH of its source.
  const handOverMs: number[] = [];
  await withImap(dovecot, creds, async (client) => {
    await client.mailboxOpen('INBOX');
    for (let i = 0; i < 20; i++) {
      await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: `hand-over ${i}`, text: 'x'.repeat(2000) }));
      const t = performance.now();
      await client.noop();
      await client.fetchOne('*', { uid: true, source: true });
      handOverMs.push(performance.now() - t);
    }
  });
  console.log(`bench:latency — ${TRIALS} trials (APPEND → …) on a folder of ${MAILBOX + 1} messages, ms\n`);
  console.log('| measure | p50 | p95 | max |\n|---|---:|---:|---:|');
  console.log(`| raw IDLE notification (imapflow) | ${pct(rawMs, 50).toFixed(0)} | ${pct(rawMs, 95).toFixed(0)} | ${Math.max(...rawMs).toFixed(0)} |`);
  console.log(`| email.received committed (Incoming) | ${pct(productMs, 50).toFixed(0)} | ${pct(productMs, 95).toFixed(0)} | ${Math.max(...productMs).toFixed(0)} |`);
  const over = productMs.map((p, i) => p - rawMs[i]!);
  console.log(`| Incoming above raw, paired | ${pct(over, 50).toFixed(0)} | ${pct(over, 95).toFixed(0)} | ${Math.max(...over).toFixed(0)} |`);
  console.log(`| IMAP server's hand-over: NOOP + UID FETCH of the new source (20 APPENDs, Incoming stopped) | ${pct(handOverMs, 50).toFixed(0)} | ${pct(handOverMs, 95).toFixed(0)} | ${Math.max(...handOverMs).toFixed(0)} |`);
  console.log(`\ntarget: p50 under 100 ms above raw → ${pct(over, 50) < 100 ? 'met' : 'NOT met'}`);
} finally {
  if (server.child.exitCode === null) server.child.kill('SIGTERM');
  await server.exited;
  await dovecot.stop();
  await db.drop();
}
