import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

/**
 * A write request made with an `Idempotency-Key` header, per API key: its fingerprint (method, URL, body) and, once
 * answered, the answer — replayed to a retry with the same key (see IdempotencyService).
 */
export const IdempotencyKey = defineEntity({
  name: 'IdempotencyKey',
  tableName: 'idempotency_keys',
  properties: {
    apiKeyId: p.integer().primary(),
    key: p.string().length(255).primary(),
    /** sha256 hex of method, URL and body. */
    fingerprint: p.string().length(64),
    /** The answer's HTTP status; null while the first request still runs. */
    status: p.integer().nullable(),
    contentType: p.string().length(255).nullable(),
    body: p.text().nullable(),
    createdAt: p.datetime().defaultRaw('now()').index('idempotency_keys_created_at'),
  },
});
export type IdempotencyKey = InferEntity<typeof IdempotencyKey>;
