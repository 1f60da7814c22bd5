export { ApiKey, AuthFailureCounter, RateLimitCounter, PERMISSIONS, type Permission } from './api-key.entity.js';
export { AuthService, API_KEYS_CHANNEL, KEY_CACHE_TTL_MS, parsePermissions, toPrincipal, type Principal, type CreatedKey, type CreateKeyInput, type KeyChangeSource } from './auth.service.js';
export { RateLimitService, type RateLimitDecision } from './rate-limit.service.js';
export { AuthThrottle, addressSubject, type AuthFailureLimits } from './auth-throttle.js';
export { hasPermissions, requirePrincipal, assertPermissions } from './auth.guard.js';
export { presentKey } from './auth.presenter.js';
export { AuthResolver } from './auth.resolver.js';
