import DataLoader from 'dataloader';
import type { CategoriesService, CategorySummary } from './categories.service.js';

export interface CategoryLoaders {
  categoriesByEmail: DataLoader<number, CategorySummary[]>;
}

/**
 * Batches the categories of every email in one response into one query. No scope check: reached only through an
 * Email the caller was allowed to see.
 */
export function createCategoryLoaders(categories: CategoriesService): CategoryLoaders {
  return {
    categoriesByEmail: new DataLoader(async (ids) => {
      const map = await categories.byEmailIds(ids);
      return ids.map((id) => map.get(id) ?? []);
    }),
  };
}
