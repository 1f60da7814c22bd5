/** Webhooks in the documented REST shape (seed 000 "Webhooks"), plus the fields the seed leaves open. */
import type { WebhookDeliveryFieldsFragment, WebhookFieldsFragment } from '../../graphql/generated/operations.js';
import { restId } from '../presenters.js';

export function restWebhook(w: WebhookFieldsFragment) {
  return {
    id: restId(w.id),
    name: w.name ?? null,
    url: w.url,
    events: w.events,
    is_active: w.isActive,
    account_id: w.accountId ? restId(w.accountId) : null,
    trigger_count: w.triggerCount,
    last_triggered_at: w.lastTriggeredAt ?? null,
    last_success_at: w.lastSuccessAt ?? null,
    last_failure_at: w.lastFailureAt ?? null,
    consecutive_failures: w.consecutiveFailures,
    disabled_reason: w.disabledReason ?? null,
    created_at: w.createdAt,
    updated_at: w.updatedAt,
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
    next_attempt_at: d.nextAttemptAt ?? null,
    last_attempt_at: d.lastAttemptAt ?? null,
    created_at: d.createdAt,
    delivered_at: d.deliveredAt ?? null,
  };
}
