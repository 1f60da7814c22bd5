/** Seed 000 "Webhooks": every documented path, plus the delivery log and redelivery. */
import {
  CreateWebhookDocument,
  DeleteWebhookDocument,
  ListWebhooksDocument,
  RedeliverWebhookDeliveryDocument,
  TestWebhookDocument,
  UpdateWebhookDocument,
  WebhookDeliveriesDocument,
  type UpdateWebhookInput,
} from '../../graphql/generated/operations.js';
import { AppError } from '../../shared/errors.js';
import { body, bool, int, onlyKnown, pageParams, stringArray, text } from '../coerce.js';
import { restPageMeta } from '../presenters/emails.js';
import { restWebhook, restWebhookDelivery } from '../presenters/webhooks.js';
import { route, type RestRequest } from '../route.js';

const CREATE_FIELDS = ['name', 'url', 'events', 'secret', 'is_active', 'account_id'] as const;
const UPDATE_FIELDS = ['name', 'url', 'events', 'secret', 'is_active'] as const;

function webhookInput(req: RestRequest, known: readonly string[]): UpdateWebhookInput & { accountId?: string } {
  const b = body(req.body);
  onlyKnown(b, known);
  const accountId = int(b.account_id, 'account_id', 1, 2_147_483_647);
  return {
    name: text(b.name, 'name'),
    url: text(b.url, 'url'),
    events: stringArray(b.events, 'events'),
    secret: text(b.secret, 'secret'),
    isActive: bool(b.is_active, 'is_active'),
    ...(accountId === undefined ? {} : { accountId: String(accountId) }),
  };
}

function required<T>(value: T | undefined | null, field: string): T {
  if (value === undefined || value === null) throw AppError.badInput(`${field}: is required`);
  return value;
}

const id = (req: RestRequest) => req.params.id!;

export const webhookRoutes = [
  route({
    method: 'GET',
    path: '/api/webhooks',
    operation: ListWebhooksDocument,
    variables: () => ({}),
    respond: (d) => ({ data: { webhooks: d.webhooks.map(restWebhook), supported_events: d.supportedWebhookEvents } }),
  }),
  route({
    method: 'POST',
    path: '/api/webhooks',
    operation: CreateWebhookDocument,
    status: 201,
    variables: (req) => {
      const input = webhookInput(req, CREATE_FIELDS);
      return { input: { ...input, url: required(input.url, 'url'), events: required(input.events, 'events') } };
    },
    // The secret is part of this answer only (generated `whsec_…` when none was given).
    respond: (d) => ({ data: { ...restWebhook(d.createWebhook.webhook), secret: d.createWebhook.secret } }),
  }),
  route({
    method: 'PUT',
    path: '/api/webhooks/:id',
    operation: UpdateWebhookDocument,
    variables: (req) => ({ id: id(req), input: webhookInput(req, UPDATE_FIELDS) }),
    respond: (d) => ({ data: restWebhook(d.updateWebhook) }),
  }),
  route({
    method: 'DELETE',
    path: '/api/webhooks/:id',
    operation: DeleteWebhookDocument,
    variables: (req) => ({ id: id(req) }),
    respond: () => ({ message: 'Webhook deleted' }),
  }),
  route({
    method: 'POST',
    path: '/api/webhooks/:id/test',
    operation: TestWebhookDocument,
    variables: (req) => ({ id: id(req) }),
    // Documented shape on success; a failed test is a 502 whose error names the reason (GraphQL has every detail).
    respond: (d) => {
      const t = d.testWebhook;
      if (!t.delivered) throw new AppError('UPSTREAM_ERROR', t.response ? `${t.message} (response: ${t.response.slice(0, 200)})` : t.message);
      return { data: { message: t.message, http_code: t.httpCode, response: t.response ?? '' } };
    },
  }),
  route({
    method: 'GET',
    path: '/api/webhooks/:id/deliveries',
    operation: WebhookDeliveriesDocument,
    variables: (req) => {
      const p = pageParams(req);
      return { id: id(req), page: p.page ?? 1, perPage: p.perPage };
    },
    respond: (d) => ({ data: d.webhookDeliveries.nodes.map(restWebhookDelivery), meta: restPageMeta(d.webhookDeliveries) }),
  }),
  route({
    method: 'POST',
    path: '/api/webhooks/:id/deliveries/:deliveryId/redeliver',
    operation: RedeliverWebhookDeliveryDocument,
    variables: (req) => ({ webhookId: id(req), deliveryId: req.params.deliveryId! }),
    status: 202,
    respond: (d) => ({ data: restWebhookDelivery(d.redeliverWebhookDelivery) }),
  }),
];
