export { Category, EmailCategory, CATEGORY_ASSIGNERS } from './category.entity.js';
export { CategoriesService, categoriesEmbed, setManualCategories, type CategorySummary } from './categories.service.js';
export { createCategoryLoaders, type CategoryLoaders } from './categories.loaders.js';
export { CategoryType } from './categories.types.js';
