/** CountCache: totals reused per outbox generation, one count at a time per listing. */
import { describe, expect, it } from 'vitest';
import { COUNT_MAX_AGE_MS, CountCache } from '../../src/modules/emails/count-cache.js';

/** A count that resolves when told to, and says how often it was started. */
function gatedCount(value: number) {
  let started = 0;
  const gates: { resolve: (n: number) => void; reject: (e: Error) => void }[] = [];
  const count = () => {
    started++;
    return new Promise<number>((resolve, reject) => gates.push({ resolve, reject }));
  };
  return { count, started: () => started, open: () => gates.shift()!.resolve(value), fail: () => gates.shift()!.reject(new Error('connection lost')) };
}

describe('CountCache', () => {
  it('concurrent misses of one listing share one count', async () => {
    const cache = new CountCache();
    const c = gatedCount(42);
    const answers = Promise.all(Array.from({ length: 32 }, () => cache.total('inbox', '7', c.count)));
    await Promise.resolve();
    expect(c.started()).toBe(1);
    c.open();
    expect(await answers).toEqual(Array(32).fill(42));
    // Settled and fresh: served without counting.
    expect(await cache.total('inbox', '7', c.count)).toBe(42);
    expect(c.started()).toBe(1);
  });

  it('a new generation counts again; other listings count on their own', async () => {
    const cache = new CountCache();
    let n = 0;
    const count = async () => ++n;
    expect(await cache.total('inbox', '1', count)).toBe(1);
    expect(await cache.total('inbox', '2', count)).toBe(2);
    expect(await cache.total('sent', '2', count)).toBe(3);
    expect(await cache.total('inbox', '2', count)).toBe(2);
  });

  it('a failed count is not cached: its waiters count on their own, the next request counts again', async () => {
    const cache = new CountCache();
    const c = gatedCount(5);
    const leader = cache.total('inbox', '1', c.count);
    const follower = cache.total('inbox', '1', c.count);
    await Promise.resolve();
    c.fail();
    await expect(leader).rejects.toThrow('connection lost');
    await Promise.resolve();
    expect(c.started()).toBe(2); // the follower's own count
    c.open();
    expect(await follower).toBe(5);
    const again = cache.total('inbox', '1', c.count);
    await Promise.resolve();
    expect(c.started()).toBe(3);
    c.open();
    expect(await again).toBe(5);
  });

  it('an aged total is served while one background recount replaces it', async () => {
    let now = 1_000_000;
    const cache = new CountCache(() => now);
    const c = gatedCount(7);
    const first = cache.total('inbox', '1', c.count);
    c.open();
    expect(await first).toBe(7);
    now += COUNT_MAX_AGE_MS;
    // Aged, same generation: answered at once with the old total; one recount starts, however many requests come.
    const slow = gatedCount(8);
    expect(await Promise.all([cache.total('inbox', '1', slow.count), cache.total('inbox', '1', slow.count)])).toEqual([7, 7]);
    expect(slow.started()).toBe(1);
    slow.open();
    await new Promise((r) => setImmediate(r));
    expect(await cache.total('inbox', '1', slow.count)).toBe(8);
    expect(slow.started()).toBe(1);
    // A failed recount keeps the old total, and the next aged request tries again.
    now += COUNT_MAX_AGE_MS;
    const failing = gatedCount(9);
    expect(await cache.total('inbox', '1', failing.count)).toBe(8);
    failing.fail();
    await new Promise((r) => setImmediate(r));
    expect(await cache.total('inbox', '1', failing.count)).toBe(8);
    expect(failing.started()).toBe(2);
    failing.open();
    await new Promise((r) => setImmediate(r));
    expect(await cache.total('inbox', '1', failing.count)).toBe(9);
    // A new generation never gets the aged total: it waits for its own count.
    const next = gatedCount(10);
    const fresh = cache.total('inbox', '2', next.count);
    next.open();
    expect(await fresh).toBe(10);
  });
});
