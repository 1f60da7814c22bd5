/**
 * `emails.sync_error`: why a local change could not be written to the IMAP server (src/sync/write-back.ts). Setting
 * it (the change failed for good) or clearing it (a later change succeeded) is a change clients must see without
 * polling, so it comes with an `email.updated` event whose `changes` is `{ syncError }` (the new value, null when
 * cleared), in the caller's transaction. Only emails whose value changes get one. The caller holds the emails' row
 * locks (taken in id order), and this is its transaction's last statement (appendEvents serialises from there on).
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { appendEvents, type NewEvent } from '../../events/index.js';
import { exec } from '../../db/sql.js';

export interface SyncErrorChange {
  emailId: number;
  /** What set or cleared it (e.g. the write-back row's id): part of the event's identity. */
  cause: string;
}

export async function setSyncErrors(em: EntityManager, changes: readonly SyncErrorChange[], error: string | null): Promise<void> {
  if (changes.length === 0) return;
  const rows = await exec<{ id: number; account_id: number | null; folder: string }>(
    em,
    `UPDATE emails SET sync_error = ?, updated_at = now() WHERE id = ANY(?::int[]) AND sync_error IS DISTINCT FROM ? RETURNING id, account_id, folder`,
    [error, changes.map((c) => c.emailId), error],
  );
  const causeOf = new Map(changes.map((c) => [c.emailId, c.cause]));
  await appendEvents(
    em,
    rows.map((r): NewEvent<'email.updated'> => ({
      type: 'email.updated',
      accountId: r.account_id,
      identity: `${r.id}\0syncError\0${error === null ? 'cleared' : 'set'}\0${causeOf.get(r.id) ?? ''}`,
      payload: { emailId: r.id, accountId: r.account_id ?? 0, folder: r.folder, changes: { syncError: error } },
    })),
  );
}
