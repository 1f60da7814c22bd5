/**
 * Input validation: zod parsing that turns failures into one BAD_USER_INPUT naming every field (in the REST snake_case
 * spelling), and `Y-m-d` days.
 */
import type { z } from 'zod';
import { AppError } from './errors.js';

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => {
    const field = i.path.map((p) => (typeof p === 'string' ? snake(p) : String(p))).join('.');
    return `${field || 'input'}: ${i.message}`;
  });
  throw AppError.badInput(problems.join('; '), { fields: r.error.issues.map((i) => i.path.map(String).join('.')) });
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
