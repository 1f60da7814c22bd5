/**
 * `npm run bench:realtime` — fan-out of the event stream to GraphQL subscribers. Starts the server as its own process,
 * opens BENCH_SUBSCRIBERS (default 1,000) graphql-ws clients (each its own WebSocket) subscribed to `events`, then
 * appends BENCH_EVENTS events with appendEvents (one transaction each, BENCH_EVENT_INTERVAL_MS apart), each carrying
 * in its payload the wall-clock time taken just before its INSERT and COMMIT. Latency = receipt at each client − that time. In
 * the same run, a raw LISTEN/NOTIFY round trip (pg_notify → a listening pg client, no server) gives the ceiling.
 *
 * Clients and writer run in this process, the server in another, PostgreSQL in a third — all on this machine.
 * BENCH_SUBSCRIBERS (1000), BENCH_EVENTS (100), BENCH_EVENT_INTERVAL_MS (250). All clients use one API key, so the
 * server executes each event's selection once (src/graphql/shared-execution.ts); what remains per client is
 * serialising and one socket write, which dominates (the kernel's loopback TCP send).
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import pg from 'pg';
import { initOrm } from '../src/db/orm.js';
import { entities } from '../src/modules/entities.js';
import { appendEvents } from '../src/events/index.js';
import { benchDatabase, benchKey, startBenchServer } from './support.js';
import { webhookBench } from './realtime-webhooks.js';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 100);
const INTERVAL_MS = Number(process.env.BENCH_EVENT_INTERVAL_MS ?? 250);

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Stats {
  name: string;
  receivers: number;
  events: number;
  deliveries: number;
  lost: number;
  p50: number;
  p99: number;
  max: number;
}

function stats(name: string, receivers: number, events: number, samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => (s.length === 0 ? NaN : Math.round(s[Math.min(s.length - 1, Math.floor(s.length * p))]! * 10) / 10);
  return { name, receivers, events, deliveries: s.length, lost: receivers * events - s.length, p50: at(0.5), p99: at(0.99), max: at(1) };
}

/** pg_notify → LISTEN on a second connection: what any NOTIFY-driven delivery costs at least. */
async function rawNotify(url: string): Promise<Stats> {
  const listener = new pg.Client({ connectionString: url });
  const sender = new pg.Client({ connectionString: url });
  await Promise.all([listener.connect(), sender.connect()]);
  const samples: number[] = [];
  listener.on('notification', (n) => samples.push(now() - Number(n.payload)));
  await listener.query('LISTEN bench_raw');
  for (let i = 0; i < EVENTS; i++) {
    await sender.query('SELECT pg_notify($1, $2)', ['bench_raw', String(now())]);
    await sleep(INTERVAL_MS / 5);
  }
  await sleep(200);
  await Promise.all([listener.end(), sender.end()]);
  return stats('raw LISTEN/NOTIFY (ceiling)', 1, EVENTS, samples);
}

/** Opens one graphql-ws client; resolves once connected. */
function open(url: string, creds: { key: string; secret: string }): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      connectionParams: { apiKey: creds.key, apiSecret: creds.secret },
      lazy: false,
      retryAttempts: 0,
      on: { connected: () => resolve(client), closed: (e) => reject(new Error(`closed ${(e as { code?: number }).code}`)) },
    });
  });
}

async function main(): Promise<void> {
  const db = await benchDatabase();
  const server = await startBenchServer(db.url);
  const orm = await initOrm({ url: db.url, entities, poolMax: 2 });
  const clients: Client[] = [];
  try {
    const creds = await benchKey(db.url);
    const wsUrl = `${server.url.replace(/^http/, 'ws')}/graphql`;
    const t0 = performance.now();
    for (let i = 0; i < SUBSCRIBERS; i += 50) {
      clients.push(...(await Promise.all(Array.from({ length: Math.min(50, SUBSCRIBERS - i) }, () => open(wsUrl, creds)))));
    }
    const samples: number[] = [];
    const received = new Map<string, number>();
    let warm = 0;
    for (const client of clients) {
      client.subscribe<{ events: { payload: { run: string; committedAt: number } } }>(
        { query: 'subscription { events(types: ["email.categorized"]) { seq payload } }' },
        {
          next: (r) => {
            const p = r.data?.events.payload;
            if (!p) return;
            if (p.run === 'warm-up') warm++;
            else {
              samples.push(now() - p.committedAt);
              received.set(p.run, (received.get(p.run) ?? 0) + 1);
            }
          },
          error: (e) => console.error('subscription error', e),
          complete: () => undefined,
        },
      );
    }
    // Subscribing is asynchronous on the server: warm-up events until every client got one.
    for (let i = 0; warm < SUBSCRIBERS; i++) {
      if (i > 600) throw new Error(`only ${warm} of ${SUBSCRIBERS} subscribers are live`);
      warm = 0;
      await appendEvents(orm.em.fork(), [{ type: 'email.categorized', accountId: null, identity: `warm-${i}`, payload: { run: 'warm-up', committedAt: now() } }]);
      await sleep(500);
    }
    console.log(`${SUBSCRIBERS} subscribers connected and live in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    for (let i = 0; i < EVENTS; i++) {
      // appendEvents runs in its own transaction and commits right after the INSERT: the time is taken just before.
      await appendEvents(orm.em.fork(), [{ type: 'email.categorized', accountId: null, identity: `bench-${i}`, payload: { run: `bench-${i}`, committedAt: now() } }]);
      await sleep(INTERVAL_MS);
    }
    for (let waited = 0; samples.length < SUBSCRIBERS * EVENTS && waited < 10_000; waited += 100) await sleep(100);
    const fanout = stats(`events subscription, ${SUBSCRIBERS} clients`, SUBSCRIBERS, EVENTS, samples);
    const ceiling = await rawNotify(db.url);

    console.log(`\nbench:realtime — ${EVENTS} events, one every ${INTERVAL_MS} ms; server, PostgreSQL and clients on this machine (loopback)\n`);
    const lines = ['| path | receivers | events | deliveries | lost | p50 ms | p99 ms | max ms |', '|---|---:|---:|---:|---:|---:|---:|---:|'];
    for (const r of [fanout, ceiling]) lines.push(`| ${r.name} | ${r.receivers} | ${r.events} | ${r.deliveries} | ${r.lost} | ${r.p50} | ${r.p99} | ${r.max} |`);
    console.log(lines.join('\n'));
    console.log(`\ntarget: p99 < 100 ms at ${SUBSCRIBERS} subscribers — ${fanout.p99 < 100 && fanout.lost === 0 ? 'met' : 'NOT met'}`);
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    await orm.close();
    server.child.kill('SIGTERM');
    await server.exited;
    await db.drop();
  }
}

await main();
// Then the webhook side: deliveries/s to a local receiver and new mail → signed webhook latency.
await webhookBench();
