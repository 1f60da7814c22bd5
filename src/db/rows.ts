/**
 * Deletes that race. Two requests deleting the same row both find it when they first look it up, so whether it was
 * still there must come from the statement that locks or deletes it. Otherwise the loser answers success for work the
 * winner did — and an account's loser reports its own `delete_emails` choice while the winner's is what happened.
 * Under READ COMMITTED a `FOR UPDATE` or `DELETE` waiting on the winner's lock re-reads the row after the winner's
 * commit and finds nothing, so the loser gets NOT_FOUND, as a sequential second delete does.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError } from '../shared/errors.js';
import { exec } from './sql.js';

/** A table whose rows have an integer `id`, and the resource name NOT_FOUND messages use (`Account 3 not found`). */
export interface RowKind {
  readonly table: string;
  readonly what: string;
}

/** Locks the row until the end of `em`'s transaction; NOT_FOUND when it is gone (a concurrent delete included). */
export async function lockRowOrNotFound(em: EntityManager, kind: RowKind, id: number): Promise<void> {
  const rows = await exec(em, `SELECT id FROM ${kind.table} WHERE id = ? FOR UPDATE`, [id]);
  if (rows.length === 0) throw AppError.notFound(kind.what, id);
}

/** Deletes the row (in `em`'s transaction, if any); NOT_FOUND when no row was deleted (a concurrent delete won). */
export async function deleteRowOrNotFound(em: EntityManager, kind: RowKind, id: number): Promise<void> {
  const rows = await exec(em, `DELETE FROM ${kind.table} WHERE id = ? RETURNING id`, [id]);
  if (rows.length === 0) throw AppError.notFound(kind.what, id);
}
