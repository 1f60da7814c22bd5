/** ByteBudget: FIFO grants within the limit, oversize requests clamped, release once, abort while waiting. */
import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../src/sync/byte-budget.js';

const settled = async <T>(p: Promise<T>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

describe('ByteBudget', () => {
  it('grants within the limit and makes later requests wait, first come first served', async () => {
    const b = new ByteBudget(100);
    const r1 = await b.acquire(60);
    const big = b.acquire(50);
    const small = b.acquire(10);
    // The small one would fit, but the big one asked first.
    expect(await settled(big)).toBe(false);
    expect(await settled(small)).toBe(false);
    r1();
    const r2 = await big;
    const r3 = await small;
    expect(b.held).toBe(60);
    r2();
    r3();
    r3(); // a second release is ignored
    expect(b.held).toBe(0);
  });

  it('clamps a request larger than the whole budget: it runs alone', async () => {
    const b = new ByteBudget(100);
    const r1 = await b.acquire(1);
    const huge = b.acquire(10_000);
    expect(await settled(huge)).toBe(false);
    r1();
    const r2 = await huge;
    expect(b.held).toBe(100);
    r2();
  });

  it('a waiter whose signal aborts rejects with its reason and lets the next one through', async () => {
    const b = new ByteBudget(100);
    const r1 = await b.acquire(90);
    const ac = new AbortController();
    const aborted = b.acquire(50, ac.signal);
    const next = b.acquire(10);
    ac.abort(new Error('shutting down'));
    await expect(aborted).rejects.toThrow('shutting down');
    await next;
    expect(b.held).toBe(100);
    r1();
    await expect(b.acquire(1, ac.signal)).rejects.toThrow('shutting down');
  });
});
