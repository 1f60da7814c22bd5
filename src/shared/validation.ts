/**
 * Input validation: zod parsing that turns failures into one BAD_USER_INPUT naming every field (in the REST snake_case
 * spelling), text without NUL characters, and `Y-m-d` days.
 */
import { isIP } from 'node:net';
import type { z } from 'zod';
import { AppError } from './errors.js';

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A field path in the REST spelling, as error messages name it: `syncFolders[1]` → `sync_folders.1`. */
export function fieldName(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'string' ? snake(p) : String(p))).join('.');
}

export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${fieldName(i.path) || 'input'}: ${i.message}`);
  throw AppError.badInput(problems.join('; '), { fields: r.error.issues.map((i) => i.path.map(String).join('.')) });
}

/** PostgreSQL text cannot hold NUL (U+0000): a statement carrying one fails, so no input may. */
export const NUL_MESSAGE = 'must not contain NUL characters';

/** The path to the first string containing NUL in `value` (objects and arrays walked), or null when there is none. */
export function findNul(value: unknown, path: readonly PropertyKey[] = []): PropertyKey[] | null {
  if (typeof value === 'string') return value.includes('\0') ? [...path] : null;
  if (value === null || typeof value !== 'object') return null;
  for (const [key, v] of Array.isArray(value) ? value.entries() : Object.entries(value)) {
    const found = findNul(v, [...path, key]);
    if (found) return found;
  }
  return null;
}

/** `Y-m-d` → the UTC midnight starting that day; anything else (or 2024-02-30) is a 400 naming the field. */
export function parseDay(value: string, field: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value.trim());
  // setUTCFullYear, not Date.UTC: Date.UTC reads the years 0–99 as 1900–1999.
  const d = m ? new Date(new Date(0).setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!m || !d || Number(m[1]) < 1 || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) {
    throw AppError.badInput(`${field}: must be a date in Y-m-d format`);
  }
  return d;
}

/** A DNS label (RFC 1123): letters, digits and hyphens, 1–63 characters, no hyphen at either end. */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * An IP address (IPv6 also in brackets, as URLs write it), or a host name: labels separated by dots (one trailing dot
 * allowed), the last not all digits (`999.999.999.999`, `1.2.3`: not addresses, and no top-level domain is numeric).
 * Checked label by label: one regex over the whole name backtracked exponentially (a 30-character host held the event
 * loop for seconds).
 */
export function isHost(s: string): boolean {
  if (isIP(s) !== 0 || (s.startsWith('[') && s.endsWith(']') && isIP(s.slice(1, -1)) === 6)) return true;
  const labels = (s.endsWith('.') ? s.slice(0, -1) : s).split('.');
  return labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels.at(-1)!);
}
