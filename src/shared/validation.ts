/** zod parsing that turns failures into one BAD_USER_INPUT naming every field, in the REST (snake_case) spelling. */
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
