/**
 * Reads the outbox in seq order. Because appendEvents serialises appends until commit (see outbox.ts), every row with
 * a seq below a visible one is already visible: a reader may always move its cursor to the last seq it got.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { exec } from '../db/sql.js';
import type { EventType } from './catalog.js';

/** One stored event. `seq` is a bigint rendered as a string (the resume cursor). */
export interface StoredEvent {
  seq: string;
  id: string;
  type: EventType;
  accountId: number | null;
  payload: Record<string, unknown>;
  createdAt: Date;
}

export interface ReadEventsOptions {
  /** Only events with a larger seq ('0' for all). */
  afterSeq: string | number | bigint;
  limit: number;
  /** Only these types (undefined or empty: all). */
  types?: readonly string[];
  /** Only events of these accounts; `null`/undefined: every event, including those without an account. */
  accountIds?: readonly number[] | null;
}

interface Row {
  seq: string;
  id: string;
  type: string;
  account_id: number | null;
  payload: Record<string, unknown> | string;
  created_at: Date | string;
}

/** Events after `afterSeq`, oldest first, at most `limit`. */
export async function readEvents(em: EntityManager, opts: ReadEventsOptions): Promise<StoredEvent[]> {
  const where = ['seq > ?::bigint'];
  const params: unknown[] = [String(opts.afterSeq)];
  if (opts.types && opts.types.length > 0) {
    where.push('type = ANY(?::text[])');
    params.push([...opts.types]);
  }
  if (opts.accountIds) {
    where.push('account_id = ANY(?::int[])');
    params.push([...opts.accountIds]);
  }
  params.push(Math.max(1, Math.floor(opts.limit)));
  const rows = await exec<Row>(
    em,
    // ORDER BY the column, not the text alias of the same name (which would sort '10' before '9').
    `SELECT seq::text AS seq, id, type, account_id, payload, created_at FROM events
     WHERE ${where.join(' AND ')} ORDER BY events.seq LIMIT ?`,
    params,
  );
  return rows.map(toStoredEvent);
}

/** The seq of the event with this id, or null if there is none. */
export async function seqOfEvent(em: EntityManager, id: string): Promise<string | null> {
  const rows = await exec<{ seq: string }>(em, 'SELECT seq::text AS seq FROM events WHERE id = ?', [id]);
  return rows[0]?.seq ?? null;
}

/** The largest seq stored ('0' when the outbox is empty): where a live-only reader starts. */
export async function lastEventSeq(em: EntityManager): Promise<string> {
  const rows = await exec<{ seq: string | null }>(em, 'SELECT max(seq)::text AS seq FROM events');
  return rows[0]?.seq ?? '0';
}

/**
 * The largest seq ever handed out ('0' before the first), committed or not, whether or not retention deleted it: a
 * cursor above it never came from this database (a client's cursor kept across a restore from a backup).
 */
export async function highestIssuedSeq(em: EntityManager): Promise<string> {
  const rows = await exec<{ seq: string | null }>(em, "SELECT pg_sequence_last_value(pg_get_serial_sequence('events', 'seq'))::text AS seq");
  return rows[0]?.seq ?? '0';
}

function toStoredEvent(r: Row): StoredEvent {
  return {
    seq: r.seq,
    id: r.id,
    type: r.type as EventType,
    accountId: r.account_id,
    payload: typeof r.payload === 'string' ? (JSON.parse(r.payload) as Record<string, unknown>) : r.payload,
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
  };
}
