/** The route table: every implemented /api path. Nothing else under /api exists. */
import type { RestRoute } from '../route.js';
import { accountRoutes } from './accounts.js';
import { authRoutes } from './auth.js';

export const restRoutes: readonly RestRoute[] = [...authRoutes, ...accountRoutes];
