/**
 * PgPubSub (LISTEN/NOTIFY fan-out: write-back wake-ups, sync progress) against real PostgreSQL, behind a loopback
 * relay that refuses connections at first: a first LISTEN connection that cannot be opened (PostgreSQL restarting,
 * or `too many clients already` under load) must not leave the process without notifications until it restarts.
 */
import net from 'node:net';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgPubSub, PUBSUB_MAX_QUEUED } from '../../src/events/pubsub.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

let db: TestDatabase;
let relay: net.Server;
let accepting = false;
let relayUrl: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const target = new URL(db.url);
  relay = net.createServer((socket) => {
    if (!accepting) return void socket.destroy();
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    socket.pipe(upstream).pipe(socket);
    for (const s of [socket, upstream]) s.on('error', () => (socket.destroy(), upstream.destroy()));
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const u = new URL(db.url);
  u.hostname = '127.0.0.1';
  u.port = String((relay.address() as net.AddressInfo).port);
  relayUrl = u.toString();
});

afterAll(async () => {
  await new Promise((resolve) => relay?.close(resolve));
  await db?.drop();
});

async function notify(channel: string, payload: unknown): Promise<void> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify(payload)]);
  await c.end();
}

describe('PgPubSub', () => {
  it('a LISTEN connection that could not be opened is tried again by the next subscriber', async () => {
    const pubsub = new PgPubSub(relayUrl, pino({ level: 'silent' }));
    try {
      accepting = false;
      const refused = pubsub.iterate<number>('incoming_test_channel');
      await expect(refused.next()).rejects.toThrow();
      accepting = true;
      const it = pubsub.iterate<number>('incoming_test_channel');
      const first = it.next();
      // Listening once `on` resolves; the iterator above shares its LISTEN.
      const stop = await pubsub.on('incoming_test_channel', () => undefined);
      await notify('incoming_test_channel', 42);
      // Delivered within moments once listening; the bound only turns a subscriber left deaf into a failure.
      const late = new Promise((resolve) => setTimeout(() => resolve('nothing delivered within 10 s'), 10_000).unref());
      expect(await Promise.race([first, late])).toEqual({ value: 42, done: false });
      stop();
      await it.return?.();
    } finally {
      await pubsub.close();
    }
  });

  it('a subscriber that does not consume keeps only the newest messages, not every one since it stopped', async () => {
    accepting = true;
    const pubsub = new PgPubSub(relayUrl, pino({ level: 'silent' }));
    try {
      const it = pubsub.iterate<number>('incoming_test_backlog');
      let arrived = 0;
      const stop = await pubsub.on('incoming_test_backlog', () => void arrived++);
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query(`SELECT pg_notify('incoming_test_backlog', n::text) FROM generate_series(1, 1000) AS n`);
      await c.end();
      while (arrived < 1000) await new Promise((r) => setTimeout(r, 20));
      stop();
      const got: number[] = [];
      const more = () => Promise.race([it.next(), new Promise<IteratorResult<number>>((r) => setTimeout(() => r({ value: undefined, done: true }), 200))]);
      for (let r = await more(); !r.done; r = await more()) got.push(r.value);
      await it.return?.();
      expect(got.length).toBeLessThanOrEqual(PUBSUB_MAX_QUEUED);
      expect(got.at(-1)).toBe(1000);
      expect(got).toEqual([...got].sort((a, b) => a - b));
    } finally {
      await pubsub.close();
    }
  });
});
