/** Categories: the categories of many emails at once, and manual assignment (category CRUD and rules come with their own issue). */
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { exec, type RowEmbed } from '../../db/sql.js';
import { AppError } from '../../shared/errors.js';

export interface CategorySummary {
  id: number;
  name: string;
  slug: string;
  color: string | null;
}

const ORDER = 'c.priority DESC, c.name, c.id';

/** The categories of one email as JSON, in byEmailIds' order: read with the email's row instead of by a second query. */
export const categoriesEmbed: RowEmbed<CategorySummary[]> = {
  sql: (id) => `array_to_json(ARRAY(SELECT json_build_object('id', c.id, 'name', c.name, 'slug', c.slug, 'color', c.color)
    FROM email_categories ec JOIN categories c ON c.id = ec.category_id WHERE ec.email_id = ${id} ORDER BY ${ORDER}))`,
  fromJson: (json) => json as CategorySummary[],
};

export class CategoriesService {
  constructor(private readonly orm: MikroORM) {}

  /** Categories per email id, by priority then name; emails without categories map to []. */
  async byEmailIds(emailIds: readonly number[]): Promise<Map<number, CategorySummary[]>> {
    const out = new Map<number, CategorySummary[]>(emailIds.map((id) => [id, []]));
    if (emailIds.length === 0) return out;
    const rows = await exec<CategorySummary & { email_id: number }>(
      this.orm.em.fork(),
      `SELECT ec.email_id, c.id, c.name, c.slug, c.color FROM email_categories ec JOIN categories c ON c.id = ec.category_id
       WHERE ec.email_id = ANY(?::int[]) ORDER BY ${ORDER}`,
      [[...emailIds]],
    );
    for (const { email_id, ...c } of rows) out.get(email_id)?.push(c);
    return out;
  }
}

/**
 * Sets the manually assigned categories of `emailIds` to exactly `categoryIds` (rule-assigned ones are left alone, and
 * a category already assigned by a rule is not duplicated), inside the caller's transaction. Unknown category ids are
 * a 400 naming them. Returns the ids of the emails whose categories changed.
 */
export async function setManualCategories(em: EntityManager, emailIds: readonly number[], categoryIds: readonly number[]): Promise<Set<number>> {
  const wanted = [...new Set(categoryIds)];
  if (wanted.length > 0) {
    const known = await exec<{ id: number }>(em, 'SELECT id FROM categories WHERE id = ANY(?::int[])', [wanted]);
    const missing = wanted.filter((id) => !known.some((k) => k.id === id));
    if (missing.length > 0) throw AppError.badInput(`categories: unknown category id(s) ${missing.join(', ')}`);
  }
  if (emailIds.length === 0) return new Set();
  const removed = await exec<{ email_id: number }>(
    em,
    `DELETE FROM email_categories WHERE email_id = ANY(?::int[]) AND assigned_by = 'manual' AND NOT (category_id = ANY(?::int[]))
     RETURNING email_id`,
    [[...emailIds], wanted],
  );
  const added = wanted.length === 0 ? [] : await exec<{ email_id: number }>(
    em,
    `INSERT INTO email_categories (email_id, category_id, assigned_by, created_at)
     SELECT e, c, 'manual', now() FROM unnest(?::int[]) AS e, unnest(?::int[]) AS c
     ON CONFLICT (email_id, category_id) DO NOTHING RETURNING email_id`,
    [[...emailIds], wanted],
  );
  return new Set([...removed, ...added].map((r) => r.email_id));
}
