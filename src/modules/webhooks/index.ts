export { Webhook, WebhookDelivery, WebhookDispatchCursor, DELIVERY_STATUSES, type DeliveryStatus } from './webhook.entity.js';
export { WebhooksService, type DeliveryQueue, type CreatedWebhook, type WebhookTestResult, type DeliveryPage } from './webhooks.service.js';
export { WebhooksResolver } from './webhooks.resolver.js';
export { UrlGuard, UrlRefusedError, forbiddenRange } from './url-guard.js';
export { WebhookSender, generateSecret, signer, RESPONSE_BODY_LIMIT, type AttemptResult, type SignedMessage } from './webhook-sender.js';
export { webhookBody, webhookMessageId, TEST_EVENT } from './webhook-payload.js';
export { ownerRefusal, type WebhookOwnerState } from './webhook-owner.js';
