/** HTTP conditional and range request helpers (RFC 9110 §13.1.2 If-None-Match, §14 Range). Pure. */

export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

// Each number with the blanks after it as one optional group: `[ \t]*(\d*)[ \t]*` let two blank runs meet around an
// empty number, and a header of tabs backtracked cubically (16 KB of header held the event loop for minutes).
const SINGLE = /^bytes[ \t]*=[ \t]*(?:(\d+)[ \t]*)?-[ \t]*(?:(\d+)[ \t]*)?$/i;

/**
 * Interprets a `Range` header for a representation of `size` bytes. Only one byte range is served: a multi-range
 * request, another unit or an unparseable header gets the full representation (allowed: a server may ignore Range).
 * A syntactically valid single range that selects nothing (first byte at or past the end, a zero-length suffix, or any
 * range of an empty file) is unsatisfiable (416).
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const m = SINGLE.exec(header.trim());
  if (!m) return { kind: 'full' };
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return { kind: 'full' };
  // Very long digit strings become imprecise or Infinity: still past any real size, which is all that matters below.
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'full' }; // invalid byte-range-spec: the header is ignored
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}

/** Whether an `If-None-Match` header matches the strong `etag` (weak comparison, as the RFC requires for this header). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}
