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

/**
 * Locks the rows of `table` matching `where` in id order, until the end of `em`'s transaction; returns their ids. An
 * UPDATE or DELETE of several rows locks them in the order its plan meets them (an index, the heap, a join's other
 * side), so two of them over the same rows can each hold one the other wants: PostgreSQL then aborts one (40P01).
 * Writers of several rows that others change concurrently (emails above all) lock them with this first.
 */
export async function lockRowsInIdOrder(em: EntityManager, table: string, where: string, params: readonly unknown[]): Promise<number[]> {
  const rows = await exec<{ id: number }>(em, `SELECT id FROM ${table} WHERE ${where} ORDER BY id FOR UPDATE`, params);
  return rows.map((r) => r.id);
}

/** Deletes the row (in `em`'s transaction, if any); NOT_FOUND when no row was deleted (a concurrent delete won). */
export async function deleteRowOrNotFound(em: EntityManager, kind: RowKind, id: number): Promise<void> {
  const rows = await exec(em, `DELETE FROM ${kind.table} WHERE id = ? RETURNING id`, [id]);
  if (rows.length === 0) throw AppError.notFound(kind.what, id);
}
