/** GraphQL types for webhooks. Explicit type functions everywhere (no emitDecoratorMetadata). */
import { DateTimeISOResolver } from 'graphql-scalars';
import { Field, ID, InputType, Int, ObjectType } from '../type-graphql.js';

@ObjectType('Webhook', { description: 'A webhook subscription. The signing secret is returned only by createWebhook.' })
export class WebhookType {
  @Field(() => ID) id!: number;
  @Field(() => String, { nullable: true }) name!: string | null;
  @Field(() => String) url!: string;
  @Field(() => [String]) events!: string[];
  @Field(() => Boolean) isActive!: boolean;
  @Field(() => ID, { nullable: true, description: 'Only events of this account (null: every account)' }) accountId!: number | null;
  @Field(() => Int, { description: 'Delivery attempts made' }) triggerCount!: number;
  @Field(() => DateTimeISOResolver, { nullable: true }) lastTriggeredAt!: Date | null;
  @Field(() => DateTimeISOResolver, { nullable: true }) lastSuccessAt!: Date | null;
  @Field(() => DateTimeISOResolver, { nullable: true }) lastFailureAt!: Date | null;
  @Field(() => Int) consecutiveFailures!: number;
  @Field(() => String, { nullable: true, description: 'Why the webhook was disabled automatically' }) disabledReason!: string | null;
  @Field(() => DateTimeISOResolver) createdAt!: Date;
  @Field(() => DateTimeISOResolver) updatedAt!: Date;
}

@ObjectType('CreatedWebhook')
export class CreatedWebhookType {
  @Field(() => WebhookType) webhook!: WebhookType;
  @Field(() => String, { description: 'The signing secret (Standard Webhooks). Shown only now.' }) secret!: string;
}

@ObjectType('WebhookTestResult')
export class WebhookTestResultType {
  @Field(() => Boolean) delivered!: boolean;
  @Field(() => String) message!: string;
  @Field(() => Int, { nullable: true }) httpCode!: number | null;
  @Field(() => String, { nullable: true, description: 'The response body (truncated to 2 KiB)' }) response!: string | null;
  @Field(() => Int) latencyMs!: number;
  @Field(() => String, { nullable: true }) error!: string | null;
}

@ObjectType('WebhookDelivery', { description: 'One event for one webhook; the attempt fields describe the last attempt' })
export class WebhookDeliveryType {
  @Field(() => ID) id!: number;
  @Field(() => String) eventId!: string;
  @Field(() => String) eventType!: string;
  @Field(() => Int, { description: 'Attempts made so far' }) attempt!: number;
  @Field(() => String, { description: 'pending | delivered | failed' }) status!: string;
  @Field(() => Int, { nullable: true }) httpCode!: number | null;
  @Field(() => Int, { nullable: true }) latencyMs!: number | null;
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field(() => String, { nullable: true, description: 'Truncated to 2 KiB' }) responseBody!: string | null;
  @Field(() => DateTimeISOResolver, { nullable: true }) nextAttemptAt!: Date | null;
  @Field(() => DateTimeISOResolver, { nullable: true }) lastAttemptAt!: Date | null;
  @Field(() => DateTimeISOResolver) createdAt!: Date;
  @Field(() => DateTimeISOResolver, { nullable: true }) deliveredAt!: Date | null;
}

@ObjectType('WebhookDeliveryPage')
export class WebhookDeliveryPageType {
  @Field(() => [WebhookDeliveryType]) nodes!: WebhookDeliveryType[];
  @Field(() => Int) totalCount!: number;
  @Field(() => Int) page!: number;
  @Field(() => Int) perPage!: number;
  @Field(() => Int) totalPages!: number;
}

@InputType('CreateWebhookInput')
export class CreateWebhookInputType {
  @Field(() => String, { nullable: true }) name?: string;
  @Field(() => String, { description: 'https URL (http only for WEBHOOK_ALLOWED_HOSTS)' }) url!: string;
  @Field(() => [String]) events!: string[];
  @Field(() => String, { nullable: true, description: 'whsec_… (Standard Webhooks) or 16–256 ASCII characters; generated when absent' })
  secret?: string;
  @Field(() => Boolean, { nullable: true, description: 'Default true' }) isActive?: boolean;
  @Field(() => ID, { nullable: true, description: 'Only events of this account' }) accountId?: string;
}

@InputType('UpdateWebhookInput')
export class UpdateWebhookInputType {
  @Field(() => String, { nullable: true }) name?: string;
  @Field(() => String, { nullable: true }) url?: string;
  @Field(() => [String], { nullable: true }) events?: string[];
  @Field(() => String, { nullable: true }) secret?: string;
  @Field(() => Boolean, { nullable: true, description: 'true re-enables and clears consecutiveFailures and disabledReason' }) isActive?: boolean;
}
