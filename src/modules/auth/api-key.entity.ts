import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const PERMISSIONS = ['read', 'write', 'send', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** An API key: a public key id (`X-API-Key`) and a secret stored only as a salted hash. */
export const ApiKey = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.string().length(100),
    publicKey: p.string().length(128).unique(),
    secretHash: p.string().length(64),
    secretSalt: p.string().length(32),
    permissions: p.array<Permission>().default([]),
    /** Accounts this key may see; null means every account. */
    accountIds: p.json<number[]>().nullable(),
    requestsPerMinute: p.integer(),
    requestsPerHour: p.integer(),
    lastUsedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type ApiKey = InferEntity<typeof ApiKey>;

/**
 * Fixed-window request counters, one row per key, bucket (minute/hour) and window start. Counting in PostgreSQL makes
 * the limit hold across any number of server instances.
 */
export const RateLimitCounter = defineEntity({
  name: 'RateLimitCounter',
  tableName: 'rate_limit_counters',
  properties: {
    keyId: p.integer().primary(),
    bucket: p.string().length(8).primary(),
    windowStart: p.datetime().primary(),
    count: p.integer().default(0),
  },
});
export type RateLimitCounter = InferEntity<typeof RateLimitCounter>;

/**
 * Failed authentications per fixed window, one row per subject (`ip:…` a client address, `key:…` an API key id) and
 * window start: the failed-authentication throttle (auth-throttle.ts), shared by every server instance.
 */
export const AuthFailureCounter = defineEntity({
  name: 'AuthFailureCounter',
  tableName: 'auth_failure_counters',
  properties: {
    subject: p.string().length(64).primary(),
    windowStart: p.datetime().primary(),
    count: p.integer().default(0),
  },
});
export type AuthFailureCounter = InferEntity<typeof AuthFailureCounter>;
