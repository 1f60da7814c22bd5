/**
 * Appends events to the outbox through the caller's EntityManager (so they commit or roll back with the change) and
 * queues a NOTIFY that PostgreSQL delivers only after commit. Listeners read rows by seq, so a lost notification
 * only delays an event.
 *
 * Ordering: a bigserial alone is not a safe cursor (A takes seq 10, B takes 11, B commits first: a reader that saw
 * 11 moves past 10 and never sees A's event). So appending takes a transaction-level advisory lock first: from the
 * append to its commit, a transaction is the only one holding new seqs, and seq order equals commit order. The price
 * is that event-writing transactions serialise from that point on, so callers append as their last (or nearly last)
 * statement and must not wait for row locks another appender could hold after it.
 */
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { LockNamespace } from '../db/locks.js';
import { exec } from '../db/sql.js';
import type { NewEvent } from './catalog.js';

export const EVENTS_CHANNEL = 'incoming_events';

/** Deterministic event id: the same happening always gets the same id (receivers can deduplicate). */
export function eventId(e: Pick<NewEvent, 'type' | 'accountId' | 'identity'>): string {
  return createHash('sha256').update(`${e.type}\0${e.accountId ?? ''}\0${e.identity}`).digest('hex');
}

/** Inserts the events (ignoring ones that already exist) and notifies listeners at commit. Returns how many were new. */
export async function appendEvents(em: EntityManager, events: readonly NewEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  // Outside a transaction the lock would be released before the row is visible: give the append its own.
  if (!em.isInTransaction()) return em.transactional((tx) => appendEvents(tx, events));
  await exec(em, 'SELECT pg_advisory_xact_lock(?, 0)', [LockNamespace.events]);
  const values = events.map(() => '(?, ?, ?, ?::jsonb, now())').join(', ');
  const params = events.flatMap((e) => [eventId(e), e.type, e.accountId, JSON.stringify(e.payload)]);
  const rows = await exec<{ seq: string }>(
    em,
    `INSERT INTO events (id, type, account_id, payload, created_at) VALUES ${values}
     ON CONFLICT (id) DO NOTHING RETURNING seq`,
    params,
  );
  if (rows.length > 0) {
    const last = rows.reduce((m, r) => (BigInt(r.seq) > BigInt(m) ? r.seq : m), rows[0]!.seq);
    await exec(em, 'SELECT pg_notify(?, ?)', [EVENTS_CHANNEL, last]);
  }
  return rows.length;
}
