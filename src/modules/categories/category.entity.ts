import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { Email } from '../emails/email.entity.js';

/** A label for emails (seed 000 "Categories"). Only the model and read side exist so far; CRUD and rules come later. */
export const Category = defineEntity({
  name: 'Category',
  tableName: 'categories',
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.string().length(100),
    slug: p.string().length(100).unique('categories_slug_unique'),
    description: p.text().nullable(),
    color: p.string().length(20).nullable(),
    isActive: p.boolean().default(true),
    priority: p.integer().default(0),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type Category = InferEntity<typeof Category>;

export const CATEGORY_ASSIGNERS = ['manual', 'rule'] as const;

/** An email's membership in a category: set by hand (PATCH) or by an auto-categorization rule (with a confidence). */
export const EmailCategory = defineEntity({
  name: 'EmailCategory',
  tableName: 'email_categories',
  properties: {
    email: () => p.manyToOne(Email).primary().deleteRule('cascade'),
    category: () => p.manyToOne(Category).primary().deleteRule('cascade').index('email_categories_category'),
    assignedBy: p.enum(CATEGORY_ASSIGNERS).default('manual'),
    confidence: p.decimal('number').precision(5).scale(4).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type EmailCategory = InferEntity<typeof EmailCategory>;
