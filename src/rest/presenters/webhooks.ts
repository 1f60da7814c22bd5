/** Webhooks in the documented REST shape (seed 000 "Webhooks"), plus the fields the seed leaves open. */
import type { WebhookDeliveryFieldsFragment, WebhookFieldsFragment } from '../../graphql/generated/operations.js';
import { restId, restTime } from '../presenters.js';

export function restWebhook(w: WebhookFieldsFragment) {
  return {
    id: restId(w.id),
    name: w.name ?? null,
    url: w.url,
    events: w.events,
    is_active: w.isActive,
    account_id: w.accountId ? restId(w.accountId) : null,
    trigger_count: w.triggerCount,
    last_triggered_at: restTime(w.lastTriggeredAt),
    last_success_at: restTime(w.lastSuccessAt),
    last_failure_at: restTime(w.lastFailureAt),
    consecutive_failures: w.consecutiveFailures,
    disabled_reason: w.disabledReason ?? null,
    created_at: restTime(w.createdAt),
    updated_at: restTime(w.updatedAt),
  };
}

export function restWebhookDelivery(d: WebhookDeliveryFieldsFragment) {
  return {
    id: restId(d.id),
    event_id: d.eventId,
    event_type: d.eventType,
    attempt: d.attempt,
    status: d.status,
    http_code: d.httpCode ?? null,
    latency_ms: d.latencyMs ?? null,
    error: d.error ?? null,
    response_body: d.responseBody ?? null,
    next_attempt_at: restTime(d.nextAttemptAt),
    last_attempt_at: restTime(d.lastAttemptAt),
    created_at: restTime(d.createdAt),
    delivered_at: restTime(d.deliveredAt),
  };
}
