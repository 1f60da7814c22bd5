/**
 * Webhook subscriptions: CRUD with sealed secrets and URL checks, the synchronous test delivery, the delivery log and
 * redelivery. Deliveries themselves are made by the delivery engine (src/webhooks), reached through `DeliveryQueue`.
 */
import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { deleteRowOrNotFound, type RowKind } from '../../db/rows.js';
import { exec } from '../../db/sql.js';
import { EVENT_TYPES } from '../../events/index.js';
import { open, seal } from '../../shared/crypto.js';
import { AppError } from '../../shared/errors.js';
import { parseInput } from '../../shared/validation.js';
import { Account, canSeeAccount } from '../accounts/index.js';
import type { Principal } from '../auth/index.js';
import { UrlRefusedError, type UrlGuard } from './url-guard.js';
import { Webhook, WebhookDelivery } from './webhook.entity.js';
import { TEST_EVENT, webhookBody } from './webhook-payload.js';
import { generateSecret, type AttemptResult, type WebhookSender } from './webhook-sender.js';
import { CreateWebhookSchema, UpdateWebhookSchema, type CreateWebhookInput, type UpdateWebhookInput } from './webhooks.validation.js';

/** The delivery engine's side of redelivery: re-queues one delivery now (durably, with its state change). */
export interface DeliveryQueue {
  redeliver(deliveryId: number): Promise<void>;
}

export interface WebhooksServiceDeps {
  orm: MikroORM;
  secretKey: Buffer;
  guard: UrlGuard;
  sender: WebhookSender;
  queue: DeliveryQueue;
  /** Webhooks one API key may own (WEBHOOK_MAX_PER_KEY). */
  maxPerKey: number;
}

export interface CreatedWebhook {
  webhook: Webhook;
  /** The signing secret, returned only here. */
  secret: string;
}

export interface WebhookTestResult {
  delivered: boolean;
  message: string;
  httpCode: number | null;
  response: string | null;
  latencyMs: number;
  error: string | null;
}

export interface DeliveryPage {
  nodes: WebhookDelivery[];
  totalCount: number;
  page: number;
  perPage: number;
  totalPages: number;
}

const aad = (id: number) => `webhooks:${id}:secret`;
const WEBHOOK_ROW: RowKind = { table: 'webhooks', what: 'Webhook' };

export class WebhooksService {
  constructor(private readonly deps: WebhooksServiceDeps) {}

  private get em() {
    return this.deps.orm.em;
  }

  /** Every event name a webhook may subscribe to (the event catalog). */
  supportedEvents(): readonly string[] {
    return EVENT_TYPES;
  }

  async list(principal: Principal): Promise<Webhook[]> {
    const scope = principal.accountIds === null ? {} : { account: { $in: [...principal.accountIds] } };
    return this.em.find(Webhook, scope, { orderBy: { id: 'asc' } });
  }

  /** One webhook, or NOT_FOUND (also outside the principal's scope: an unscoped webhook needs an unscoped key). */
  async get(principal: Principal, id: number): Promise<Webhook> {
    const webhook = await this.em.findOne(Webhook, { id });
    const accountId = webhook?.account?.id ?? null;
    const visible = webhook && (accountId === null ? principal.accountIds === null : canSeeAccount(principal, accountId));
    if (!visible) throw AppError.notFound('Webhook', id);
    return webhook;
  }

  async create(principal: Principal, raw: CreateWebhookInput | Record<string, unknown>): Promise<CreatedWebhook> {
    const input = parseInput(CreateWebhookSchema, raw);
    if (input.accountId === undefined && principal.accountIds !== null) {
      throw AppError.forbidden('This API key is limited to specific accounts: give the webhook an account_id');
    }
    const account = input.accountId === undefined ? null : await this.account(principal, input.accountId);
    await this.checkUrl(input.url);
    const secret = input.secret ?? generateSecret();
    return this.em.transactional(async (em) => {
      await this.checkOwnedCount(em, principal.keyId);
      const webhook = em.create(Webhook, {
        name: input.name ?? null,
        url: input.url,
        events: input.events,
        secretSealed: 'pending',
        isActive: input.isActive,
        account,
        ownerKeyId: principal.keyId,
      });
      await em.flush();
      webhook.secretSealed = seal(this.deps.secretKey, secret, aad(webhook.id));
      await em.flush();
      return { webhook, secret };
    });
  }

  /**
   * Changes the given fields. Re-enabling (`isActive: true`) clears the failure count and the disable reason. The key
   * making the change becomes the webhook's owner (webhook-owner.ts): a webhook disabled because its key was revoked
   * is re-enabled under the key that re-enables it.
   */
  async update(principal: Principal, id: number, raw: UpdateWebhookInput | Record<string, unknown>): Promise<Webhook> {
    const input = parseInput(UpdateWebhookSchema, raw);
    const webhook = await this.get(principal, id);
    if (input.url !== undefined) await this.checkUrl(input.url);
    const { secret, ...fields } = input;
    this.em.assign(webhook, Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)));
    if (secret !== undefined) webhook.secretSealed = seal(this.deps.secretKey, secret, aad(webhook.id));
    webhook.ownerKeyId = principal.keyId;
    if (input.isActive === true) {
      webhook.consecutiveFailures = 0;
      webhook.disabledReason = null;
    }
    await this.em.flush();
    return webhook;
  }

  /**
   * Removes the webhook, its delivery log and (through the log) its pending retries (foreign keys). Of concurrent
   * deletes only the one whose DELETE removed the row succeeds; the others are 404s.
   */
  async delete(principal: Principal, id: number): Promise<void> {
    const webhook = await this.get(principal, id);
    await deleteRowOrNotFound(this.em, WEBHOOK_ROW, webhook.id);
  }

  /** Sends a test payload now and reports the outcome (a failure is a result, not an error); counters stay as they are. */
  async test(principal: Principal, id: number): Promise<WebhookTestResult> {
    const webhook = await this.get(principal, id);
    const eventId = `test_${randomUUID()}`;
    const body = webhookBody({
      type: TEST_EVENT,
      id: eventId,
      createdAt: new Date(),
      payload: { webhookId: webhook.id, message: 'This is a test webhook from Incoming' },
    });
    const r: AttemptResult = await this.deps.sender.send(webhook.url, this.secret(webhook), { msgId: `msg_${webhook.id}_${eventId}`, body });
    return {
      delivered: r.ok,
      message: r.ok ? 'Test webhook delivered successfully' : `Test webhook failed: ${r.error}`,
      httpCode: r.httpCode,
      response: r.responseBody,
      latencyMs: r.latencyMs,
      error: r.error,
    };
  }

  /** The delivery log, newest first. */
  async deliveries(principal: Principal, webhookId: number, page: number, perPage: number): Promise<DeliveryPage> {
    const webhook = await this.get(principal, webhookId);
    const [nodes, totalCount] = await this.em.findAndCount(
      WebhookDelivery,
      { webhook },
      { orderBy: { id: 'desc' }, limit: perPage, offset: (page - 1) * perPage },
    );
    return { nodes, totalCount, page, perPage, totalPages: Math.ceil(totalCount / perPage) };
  }

  /** Queues one more attempt of a finished delivery (delivered or failed) at once. */
  async redeliver(principal: Principal, webhookId: number, deliveryId: number): Promise<WebhookDelivery> {
    const webhook = await this.get(principal, webhookId);
    const delivery = await this.em.findOne(WebhookDelivery, { id: deliveryId, webhook });
    if (!delivery) throw AppError.notFound('Delivery', deliveryId);
    if (!webhook.isActive) throw AppError.conflict('The webhook is disabled: re-enable it before redelivering');
    if (delivery.status === 'pending') throw AppError.conflict('The delivery is still pending');
    await this.deps.queue.redeliver(delivery.id);
    await this.em.refresh(delivery);
    return delivery;
  }

  /** The signing secret in clear (delivery engine). */
  secret(webhook: Pick<Webhook, 'id' | 'secretSealed'>): string {
    try {
      return open(this.deps.secretKey, webhook.secretSealed, aad(webhook.id));
    } catch (err) {
      throw new AppError('INTERNAL_SERVER_ERROR', `Cannot decrypt the secret of webhook ${webhook.id}: INCOMING_SECRET_KEY differs from the key it was stored with`, undefined, { cause: err });
    }
  }

  /**
   * Every event is sent to every webhook that wants it: a key creating thousands of webhooks to one target would make
   * each email a flood of requests (to a third party, through us) and fill the delivery queue. The key's row is locked
   * so that concurrent creates count one after the other.
   */
  private async checkOwnedCount(em: EntityManager, keyId: number): Promise<void> {
    await exec(em, 'SELECT 1 FROM api_keys WHERE id = ? FOR UPDATE', [keyId]);
    const owned = await em.count(Webhook, { ownerKeyId: keyId });
    if (owned >= this.deps.maxPerKey) {
      throw AppError.conflict(`This API key already has ${owned} webhooks (at most ${this.deps.maxPerKey}, WEBHOOK_MAX_PER_KEY): delete one first`);
    }
  }

  private async account(principal: Principal, id: number) {
    const account = canSeeAccount(principal, id) ? await this.em.findOne(Account, { id }) : null;
    if (!account) throw AppError.badInput(`account_id: account ${id} not found`);
    return account;
  }

  private async checkUrl(url: string): Promise<void> {
    try {
      await this.deps.guard.check(url);
    } catch (err) {
      if (err instanceof UrlRefusedError) throw AppError.badInput(`url: ${err.message}`);
      throw err;
    }
  }
}
