/**
 * Webhook benchmarks (part of `npm run bench:realtime`):
 *  (a) sustained deliveries/s: BENCH_WEBHOOK_EVENTS (default 2000) events committed at once → every signed delivery
 *      received by a local receiver (signatures verified); rate = events / (last receipt − commit);
 *  (b) end to end: APPEND of a new message on a private Dovecot → the signed `email.received` webhook received,
 *      p50/p95 over BENCH_WEBHOOK_TRIALS (default 50) trials (Dovecot notifies IDLE clients after ~500 ms; see
 *      bench:latency for that baseline).
 */
import { pathToFileURL } from 'node:url';
import { startDovecot } from '../test/support/dovecot.js';
import { appendMessage, buildMessage } from '../test/support/imap.js';
import { apiRequest } from '../test/support/server.js';
import { sql } from '../test/support/sync.js';
import { startReceiver, type ReceivedWebhook } from '../test/support/webhook-receiver.js';
import { benchDatabase, benchKey, startBenchServer } from './support.js';

const EVENTS = Number(process.env.BENCH_WEBHOOK_EVENTS ?? 2000);
const TRIALS = Number(process.env.BENCH_WEBHOOK_TRIALS ?? 50);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

/** Resolves when `pred` holds for the receiver's list, checked on every receipt. */
function waitFor(received: ReceivedWebhook[], pred: () => boolean, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const tick = () => {
      if (pred()) return resolve(performance.now());
      if (Date.now() > deadline) return reject(new Error(`timed out (${received.length} received)`));
      setTimeout(tick, 2);
    };
    tick();
  });
}

export async function webhookBench(): Promise<void> {
  const dovecot = await startDovecot();
  const db = await benchDatabase();
  const rx = await startReceiver();
  const server = await startBenchServer(db.url, { SYNC_ENABLED: 'true', SYNC_TICK_MS: '500', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' });
  try {
    const key = await benchKey(db.url);
    const api = (p: string, init?: Parameters<typeof apiRequest>[3]) => apiRequest(server.url, key, p, init);

    // (a) throughput: events without an account go to webhooks without an account filter.
    const hook = await api('/api/webhooks', { method: 'POST', json: { url: rx.url, events: ['email.updated'] } });
    if (hook.status !== 201) throw new Error(hook.text);
    rx.secret = hook.body.data.secret;
    await sql(db.url, `BEGIN; INSERT INTO events (id, type, account_id, payload, created_at)
      SELECT md5('bench' || g) || md5('x' || g), 'email.updated', NULL, jsonb_build_object('emailId', g, 'changes', jsonb_build_object('isRead', true)), now()
      FROM generate_series(1, ${EVENTS}) g; SELECT pg_notify('incoming_events', '0'); COMMIT;`);
    const t0 = performance.now();
    const tEnd = await waitFor(rx.received, () => rx.received.length >= EVENTS, 600_000);
    const seconds = (tEnd - t0) / 1000;
    const verified = rx.received.filter((r) => r.verified).length;
    const distinct = new Set(rx.received.map((r) => r.headers['webhook-id'])).size;
    await api(`/api/webhooks/${hook.body.data.id}`, { method: 'DELETE' });
    rx.received.length = 0;

    // (b) APPEND → signed email.received received.
    const creds = await dovecot.createUser();
    await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'warm-up' }));
    const mail = await api('/api/webhooks', { method: 'POST', json: { url: rx.url, events: ['email.received'] } });
    rx.secret = mail.body.data.secret;
    const acc = await api('/api/accounts', {
      method: 'POST',
      json: { name: 'Webhook latency', email: 'wh@example.com', host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true },
    });
    if (acc.status !== 201) throw new Error(acc.text);
    await waitFor(rx.received, () => rx.received.length >= 1, 60_000);
    const ms: number[] = [];
    let missed = 0;
    for (let i = 0; i < TRIALS; i++) {
      await new Promise((r) => setTimeout(r, 600 + Math.random() * 200));
      const subject = `webhook latency ${i}`;
      const t = performance.now();
      await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject, text: 'x'.repeat(2000) }));
      // A trial whose webhook does not come within 20 s is counted as missed (it may come later, after a sync poll).
      const got = await waitFor(rx.received, () => rx.received.some((r) => r.json?.data.subject === subject), 20_000).catch(() => null);
      if (got === null) missed++;
      else ms.push(got - t);
    }
    const allVerified = rx.received.every((r) => r.verified);

    console.log(`bench:realtime — webhooks\n`);
    console.log('| measure | value |\n|---|---:|');
    console.log(`| deliveries/s sustained (${EVENTS} events → local receiver, WEBHOOK_CONCURRENCY default) | ${(EVENTS / seconds).toFixed(0)} |`);
    console.log(`| signatures verified / distinct webhook-ids | ${verified}/${EVENTS} · ${distinct} |`);
    if (missed > 0) console.log(`| trials whose webhook took over 20 s (excluded below) | ${missed}/${TRIALS} |`);
    if (ms.length > 0) {
      console.log(`| APPEND → signed webhook received, p50 ms (${ms.length} trials) | ${pct(ms, 50).toFixed(0)} |`);
      console.log(`| APPEND → signed webhook received, p95 ms | ${pct(ms, 95).toFixed(0)} |`);
      console.log(`| APPEND → signed webhook received, max ms | ${Math.max(...ms).toFixed(0)} |`);
    }
    if (!allVerified) console.log('WARNING: some latency-trial signatures did not verify');
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    await rx.close();
    await dovecot.stop();
    await db.drop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await webhookBench();
