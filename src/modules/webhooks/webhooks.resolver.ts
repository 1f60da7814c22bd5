/** Thin GraphQL resolvers for webhooks: permission → service call. Changes need `write`, reading needs `read`. */
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from '../type-graphql.js';
import { parseId, withoutNulls } from '../../shared/ids.js';
import type { AppContext } from '../context.js';
import { requirePrincipal } from '../auth/index.js';
import type { Webhook, WebhookDelivery } from './webhook.entity.js';
import type { CreatedWebhook, DeliveryPage, WebhookTestResult } from './webhooks.service.js';
import {
  CreatedWebhookType,
  CreateWebhookInputType,
  UpdateWebhookInputType,
  WebhookDeliveryPageType,
  WebhookDeliveryType,
  WebhookTestResultType,
  WebhookType,
} from './webhooks.types.js';

@Resolver(() => WebhookType)
export class WebhooksResolver {
  @Authorized('read')
  @Query(() => [WebhookType], { description: 'Webhooks visible to this API key' })
  webhooks(@Ctx() ctx: AppContext): Promise<Webhook[]> {
    return ctx.services.webhooks.list(requirePrincipal(ctx));
  }

  @Authorized('read')
  @Query(() => WebhookType)
  webhook(@Arg('id', () => ID) id: string, @Ctx() ctx: AppContext): Promise<Webhook> {
    return ctx.services.webhooks.get(requirePrincipal(ctx), parseId(id));
  }

  @Authorized('read')
  @Query(() => [String], { description: 'Event names a webhook can subscribe to' })
  supportedWebhookEvents(@Ctx() ctx: AppContext): readonly string[] {
    return ctx.services.webhooks.supportedEvents();
  }

  @Authorized('read')
  @Query(() => WebhookDeliveryPageType, { description: 'Delivery log of a webhook, newest first' })
  webhookDeliveries(
    @Arg('id', () => ID) id: string,
    @Arg('page', () => Int, { defaultValue: 1 }) page: number,
    @Arg('perPage', () => Int, { defaultValue: 50 }) perPage: number,
    @Ctx() ctx: AppContext,
  ): Promise<DeliveryPage> {
    return ctx.services.webhooks.deliveries(requirePrincipal(ctx), parseId(id), Math.max(1, page), Math.min(100, Math.max(1, perPage)));
  }

  // `read` too: a webhook delivers mail on behalf of the key that sets it up (webhook-owner.ts).
  @Authorized('read', 'write')
  @Mutation(() => CreatedWebhookType, { description: 'Creates a webhook; the answer carries the signing secret once' })
  createWebhook(@Arg('input', () => CreateWebhookInputType) input: CreateWebhookInputType, @Ctx() ctx: AppContext): Promise<CreatedWebhook> {
    const { accountId, ...rest } = withoutNulls(input);
    return ctx.services.webhooks.create(requirePrincipal(ctx), { ...rest, ...(accountId ? { accountId: parseId(accountId, 'account_id') } : {}) });
  }

  @Authorized('read', 'write')
  @Mutation(() => WebhookType)
  updateWebhook(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateWebhookInputType) input: UpdateWebhookInputType,
    @Ctx() ctx: AppContext,
  ): Promise<Webhook> {
    return ctx.services.webhooks.update(requirePrincipal(ctx), parseId(id), withoutNulls(input));
  }

  @Authorized('write')
  @Mutation(() => Boolean)
  async deleteWebhook(@Arg('id', () => ID) id: string, @Ctx() ctx: AppContext): Promise<boolean> {
    await ctx.services.webhooks.delete(requirePrincipal(ctx), parseId(id));
    return true;
  }

  @Authorized('write')
  @Mutation(() => WebhookTestResultType, { description: 'Sends a signed test payload now and reports the outcome' })
  testWebhook(@Arg('id', () => ID) id: string, @Ctx() ctx: AppContext): Promise<WebhookTestResult> {
    return ctx.services.webhooks.test(requirePrincipal(ctx), parseId(id));
  }

  @Authorized('write')
  @Mutation(() => WebhookDeliveryType, { description: 'Queues one more attempt of a delivered or failed delivery' })
  redeliverWebhookDelivery(
    @Arg('webhookId', () => ID) webhookId: string,
    @Arg('deliveryId', () => ID) deliveryId: string,
    @Ctx() ctx: AppContext,
  ): Promise<WebhookDelivery> {
    return ctx.services.webhooks.redeliver(requirePrincipal(ctx), parseId(webhookId, 'id'), parseId(deliveryId, 'delivery_id'));
  }

  @FieldResolver(() => ID, { nullable: true })
  accountId(@Root() webhook: Webhook): number | null {
    return webhook.account?.id ?? null;
  }
}
