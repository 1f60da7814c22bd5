/**
 * Decides how to sync one folder from the stored cursor and the server's SELECT answer. Pure, unit-tested.
 */
export interface CursorView {
  uidValidity: number | null;
  uidNext: number;
  highestModseq: string | null;
}

export interface MailboxView {
  uidValidity: number;
  uidNext: number;
  exists: number;
  highestModseq: string | null;
}

export type FolderPlan =
  | { kind: 'initial' }
  /** UIDVALIDITY changed (or a reset was interrupted): rematch by content identity, then drop what did not survive. */
  | { kind: 'reset' }
  /** Same UIDVALIDITY: fetch UIDs from `fromUid`, then flags since `changedSince` (CONDSTORE) or by comparison. */
  | { kind: 'incremental'; fromUid: number; changedSince: string | null; unchanged: boolean };

/**
 * `selectedBefore`: the folder was already selected on this session (the IDLE folder), so `box` holds the UIDNEXT and
 * HIGHESTMODSEQ of that earlier SELECT — IMAP notifications update only EXISTS — and cannot prove "unchanged".
 */
export function planFolderSync(
  cursor: CursorView | null,
  box: MailboxView,
  opts: { full: boolean; staleRowsExist: boolean; selectedBefore?: boolean },
): FolderPlan {
  if (!cursor || cursor.uidValidity === null) return opts.staleRowsExist ? { kind: 'reset' } : { kind: 'initial' };
  if (cursor.uidValidity !== box.uidValidity || opts.staleRowsExist) return { kind: 'reset' };
  if (opts.full) return { kind: 'initial' };
  const unchanged =
    !opts.selectedBefore &&
    cursor.uidNext >= box.uidNext && cursor.highestModseq !== null && box.highestModseq !== null && cursor.highestModseq === box.highestModseq;
  return { kind: 'incremental', fromUid: cursor.uidNext, changedSince: box.highestModseq !== null ? cursor.highestModseq : null, unchanged };
}

/**
 * Splits items into consecutive chunks bounded by count and total size (so a chunk of big messages stays small); an
 * item `alone` says so gets a chunk of its own.
 */
export function chunkBySize<T>(items: readonly T[], size: (t: T) => number, maxCount: number, maxBytes: number, alone: (t: T) => boolean = () => false): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const s = size(item);
    if (cur.length > 0 && (cur.length >= maxCount || bytes + s > maxBytes || alone(item) || alone(cur[0]!))) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(item);
    bytes += s;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
