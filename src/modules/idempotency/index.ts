export { IdempotencyKey } from './idempotency-key.entity.js';
export { IdempotencyService, requestFingerprint, IDEMPOTENCY_TTL_MS, ABANDONED_MS, type Claim, type StoredAnswer } from './idempotency.service.js';
