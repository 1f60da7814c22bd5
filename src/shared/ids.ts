import { AppError } from './errors.js';

/** Parses a numeric id (GraphQL `ID` or REST path segment); anything else is a 400 naming the field. */
export function parseId(value: string | number, field = 'id'): number {
  const n = typeof value === 'number' ? value : /^\d{1,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 2_147_483_647) throw AppError.badInput(`${field}: must be a positive integer id`);
  return n;
}

/** Drops null/undefined values (GraphQL sends explicit nulls for omitted nullable input fields). */
export function withoutNulls<T extends object>(input: T): { [K in keyof T]?: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== null && v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], null>;
  };
}
