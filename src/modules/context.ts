/** What a resolver gets: the caller, the services and per-request loaders (GraphQL HTTP, WebSocket and REST alike). */
import type { Principal } from './auth/index.js';
import type { Services } from './services.js';
import { createLoaders, type Loaders } from './loaders.js';

export interface AppContext {
  readonly principal: Principal | null;
  readonly requestId: string;
  readonly services: Services;
  readonly loaders: Loaders;
}

/** Builds a context with fresh DataLoaders (never shared between requests or subscription events). */
export function createContext(services: Services, principal: Principal | null, requestId: string): AppContext {
  return { principal, requestId, services, loaders: createLoaders(services) };
}
