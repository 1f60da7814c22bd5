import type { ApiKey } from './api-key.entity.js';
import type { Principal } from './auth.service.js';
import type { ApiKeyInfoType, ApiKeyType } from './auth.types.js';

export function presentPrincipal(p: Principal): ApiKeyInfoType {
  return {
    id: p.keyId,
    name: p.name,
    permissions: [...p.permissions],
    accountIds: p.accountIds ? [...p.accountIds] : null,
    rateLimit: { requestsPerMinute: p.limits.perMinute, requestsPerHour: p.limits.perHour },
  };
}

export function presentKey(k: ApiKey): ApiKeyType {
  return {
    id: k.id,
    name: k.name,
    publicKey: k.publicKey,
    permissions: [...k.permissions],
    accountIds: k.accountIds ? [...k.accountIds] : null,
    rateLimit: { requestsPerMinute: k.requestsPerMinute, requestsPerHour: k.requestsPerHour },
    lastUsedAt: k.lastUsedAt ?? null,
    revokedAt: k.revokedAt ?? null,
    createdAt: k.createdAt,
  };
}
