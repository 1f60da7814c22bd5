import { describe, expect, it } from 'vitest';
import { UID_SET_MAX_CHARS, uidSets } from '../../src/sync/imap-uids.js';

describe('uidSets', () => {
  it('packs runs into ranges, in order, without duplicates', () => {
    expect(uidSets([5, 1, 2, 3, 9, 7, 8, 3])).toEqual(['1:3,5,7:9']);
    expect(uidSets([42])).toEqual(['42']);
    expect(uidSets([])).toEqual([]);
  });

  it('splits sparse sets so that none is longer than the limit, and loses no UID', () => {
    const sparse = Array.from({ length: 1000 }, (_, i) => 1_000_000 + 2 * i);
    const sets = uidSets(sparse);
    expect(sets.length).toBeGreaterThan(1);
    for (const s of sets) expect(s.length).toBeLessThanOrEqual(UID_SET_MAX_CHARS);
    expect(sets.join(',').split(',').map(Number)).toEqual(sparse);
    expect(uidSets([1, 2, 4, 5, 7], 5)).toEqual(['1:2', '4:5,7']);
    expect(uidSets([1, 2, 4, 5, 7], 4)).toEqual(['1:2', '4:5', '7']);
  });

  it('a contiguous range of any length is one short set', () => {
    expect(uidSets(Array.from({ length: 100_000 }, (_, i) => i + 1))).toEqual(['1:100000']);
  });
});
