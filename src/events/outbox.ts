/**
 * Appends events to the outbox through the caller's EntityManager (so they commit or roll back with the change) and
 * queues a NOTIFY that PostgreSQL delivers only after commit. Listeners read rows by seq, so a lost notification
 * only delays an event.
 */
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
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
