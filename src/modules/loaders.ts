/** Per-request DataLoaders of every module, created together for one GraphQL context. */
import type { Services } from './services.js';
import { createAccountLoaders, type AccountLoaders } from './accounts/index.js';

export type Loaders = AccountLoaders;

export function createLoaders(services: Services): Loaders {
  return { ...createAccountLoaders(services.accounts) };
}
