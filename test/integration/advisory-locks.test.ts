/**
 * AdvisoryLocks against real PostgreSQL: one connection holds all of a process's locks, so holders in one process
 * must still exclude each other (session locks are re-entrant), holders in two processes too, and many locks held at
 * once must not take a connection each.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdvisoryLocks } from '../../src/db/locks.js';
import { sql } from '../support/sync.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

let db: TestDatabase;
const log = pino({ level: 'silent' });
beforeAll(async () => {
  db = await createTestDatabase();
}, 60_000);
afterAll(async () => db?.drop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `n` holders of the same lock through `locks` (one per holder, or one for all) and records overlaps. */
async function contend(locksOf: (i: number) => AdvisoryLocks, n: number): Promise<{ maxInside: number; order: number[] }> {
  let inside = 0;
  let maxInside = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      locksOf(i).withLock(7999, 1, async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        order.push(i);
        await sleep(30);
        inside--;
      }),
    ),
  );
  return { maxInside, order };
}

describe('AdvisoryLocks', () => {
  it('holders in one process exclude each other', async () => {
    const locks = new AdvisoryLocks(db.url, log);
    try {
      const r = await contend(() => locks, 5);
      expect(r.maxInside).toBe(1);
      expect(r.order).toHaveLength(5);
    } finally {
      await locks.close();
    }
  });

  it('holders in two processes exclude each other', async () => {
    const a = new AdvisoryLocks(db.url, log);
    const b = new AdvisoryLocks(db.url, log);
    try {
      const r = await contend((i) => (i % 2 === 0 ? a : b), 6);
      expect(r.maxInside).toBe(1);
      expect(r.order).toHaveLength(6);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('holds many locks at once on one connection, and a lost connection does not wedge the next holder', async () => {
    const locks = new AdvisoryLocks(db.url, log);
    try {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const holders = Array.from({ length: 25 }, (_, i) => locks.withLock(7999, 100 + i, () => gate));
      const heldNow = async () => Number((await sql<{ n: string }>(db.url, "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = 7999"))[0]!.n);
      for (let i = 0; i < 100 && (await heldNow()) < 25; i++) await sleep(20);
      expect(await heldNow()).toBe(25);
      const [backends] = await sql<{ n: string }>(db.url, "SELECT count(DISTINCT pid) AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = 7999");
      expect(Number(backends!.n)).toBe(1);
      // The holding connection is terminated under them: they run on, their locks gone; the next holder reconnects.
      await sql(db.url, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = 7999");
      release();
      await Promise.all(holders);
      expect(await locks.withLock(7999, 100, async () => heldNow())).toBe(1);
    } finally {
      await locks.close();
    }
  });
});
