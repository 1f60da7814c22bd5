/** What a receiver gets: the body `{ event, id, timestamp, data }` and the `webhook-id` it deduplicates on. */
export interface WebhookEventLike {
  type: string;
  id: string;
  createdAt: Date;
  payload: unknown;
}

/** Stable per (webhook, event): every retry and redelivery of the same event to the same webhook carries it. */
export function webhookMessageId(webhookId: number, eventId: string): string {
  return `msg_${webhookId}_${eventId}`;
}

/** The JSON body: the event name, its deterministic id, when it happened and the same payload subscriptions carry. */
export function webhookBody(e: WebhookEventLike): string {
  return JSON.stringify({ event: e.type, id: e.id, timestamp: e.createdAt.toISOString(), data: e.payload });
}

export const TEST_EVENT = 'webhook.test';
