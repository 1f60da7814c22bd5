import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/sync/backoff.js';
import { chunkBySize, planFolderSync } from '../../src/sync/plan.js';
import { headerBlock, headerHash } from '../../src/shared/header-hash.js';

const box = { uidValidity: 7, uidNext: 50, exists: 40, highestModseq: '900' };

describe('planFolderSync', () => {
  it('no cursor → initial; stale rows without cursor → reset', () => {
    expect(planFolderSync(null, box, { full: false, staleRowsExist: false })).toEqual({ kind: 'initial' });
    expect(planFolderSync(null, box, { full: false, staleRowsExist: true })).toEqual({ kind: 'reset' });
  });

  it('UIDVALIDITY change or an interrupted reset → reset', () => {
    expect(planFolderSync({ uidValidity: 6, uidNext: 10, highestModseq: '1' }, box, { full: false, staleRowsExist: false }).kind).toBe('reset');
    expect(planFolderSync({ uidValidity: 7, uidNext: 10, highestModseq: '1' }, box, { full: false, staleRowsExist: true }).kind).toBe('reset');
  });

  it('same UIDVALIDITY → incremental from the cursor with CHANGEDSINCE', () => {
    expect(planFolderSync({ uidValidity: 7, uidNext: 45, highestModseq: '800' }, box, { full: false, staleRowsExist: false })).toEqual({
      kind: 'incremental', fromUid: 45, changedSince: '800', unchanged: false,
    });
  });

  it('nothing changed (same UIDNEXT and HIGHESTMODSEQ) → unchanged', () => {
    expect(planFolderSync({ uidValidity: 7, uidNext: 50, highestModseq: '900' }, box, { full: false, staleRowsExist: false })).toMatchObject({ unchanged: true });
  });

  it('a folder selected before this pass (the IDLE folder) is never unchanged: its UIDNEXT/HIGHESTMODSEQ are old', () => {
    expect(planFolderSync({ uidValidity: 7, uidNext: 50, highestModseq: '900' }, box, { full: false, staleRowsExist: false, selectedBefore: true })).toEqual({
      kind: 'incremental', fromUid: 50, changedSince: '900', unchanged: false,
    });
  });

  it('no CONDSTORE → flags by comparison, never unchanged', () => {
    const p = planFolderSync({ uidValidity: 7, uidNext: 50, highestModseq: null }, { ...box, highestModseq: null }, { full: false, staleRowsExist: false });
    expect(p).toEqual({ kind: 'incremental', fromUid: 50, changedSince: null, unchanged: false });
  });

  it('full resync → initial pass over everything', () => {
    expect(planFolderSync({ uidValidity: 7, uidNext: 50, highestModseq: '900' }, box, { full: true, staleRowsExist: false })).toEqual({ kind: 'initial' });
  });
});

describe('chunkBySize', () => {
  it('bounds count and bytes, keeps order, never leaves an item out', () => {
    const items = [5, 5, 5, 20, 1, 1, 1, 1];
    const chunks = chunkBySize(items, (x) => x, 3, 12);
    expect(chunks).toEqual([[5, 5], [5], [20], [1, 1, 1], [1]]);
    expect(chunks.flat()).toEqual(items);
  });

  it('gives the items `alone` says so a chunk of their own', () => {
    expect(chunkBySize([1, 2, 3, 4, 5, 6], () => 1, 10, 100, (x) => x === 3 || x === 4)).toEqual([[1, 2], [3], [4], [5, 6]]);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially to the cap with jitter in [ceiling/4, ceiling]', () => {
    const o = { baseMs: 1000, maxMs: 60_000 };
    expect(backoffDelay(0, o, () => 0)).toBe(250);
    expect(backoffDelay(0, o, () => 1)).toBe(1000);
    expect(backoffDelay(3, o, () => 1)).toBe(8000);
    expect(backoffDelay(50, o, () => 1)).toBe(60_000);
    expect(backoffDelay(50, o, () => 0)).toBe(15_000);
  });
});

describe('headerHash', () => {
  it('is the same from a full source and from BODY[HEADER]', () => {
    const full = Buffer.from('Subject: x\r\nFrom: a@b.c\r\n\r\nbody\r\n');
    const header = Buffer.from('Subject: x\r\nFrom: a@b.c\r\n\r\n');
    expect(headerHash(full)).toBe(headerHash(header));
    expect(headerBlock(full).toString()).toBe('Subject: x\r\nFrom: a@b.c');
    expect(headerHash(Buffer.from('Subject: y\r\n\r\nbody'))).not.toBe(headerHash(full));
  });

  it('handles LF-only and header-only messages', () => {
    expect(headerBlock(Buffer.from('A: 1\nB: 2\n\nbody')).toString()).toBe('A: 1\nB: 2');
    expect(headerBlock(Buffer.from('A: 1\r\n')).toString()).toBe('A: 1');
  });
});
