import { Field, ID, InputType, Int, ObjectType } from '../type-graphql.js';
import { DateTimeISOResolver } from 'graphql-scalars';

@ObjectType('RateLimit')
export class RateLimitType {
  @Field(() => Int) requestsPerMinute!: number;
  @Field(() => Int) requestsPerHour!: number;
}

@ObjectType('ApiKeyInfo', { description: 'An API key as its holder may see it (never the secret)' })
export class ApiKeyInfoType {
  @Field(() => ID) id!: number;
  @Field(() => String) name!: string;
  @Field(() => [String]) permissions!: string[];
  @Field(() => RateLimitType) rateLimit!: RateLimitType;
  @Field(() => [Int], { nullable: true, description: 'Accounts the key may see; null = all' }) accountIds!: number[] | null;
}

@ObjectType('KeyValidation')
export class KeyValidationType {
  @Field(() => Boolean) valid!: boolean;
  @Field(() => ApiKeyInfoType) key!: ApiKeyInfoType;
}

@ObjectType('ApiKey')
export class ApiKeyType extends ApiKeyInfoType {
  @Field(() => String, { description: 'The public key id sent as X-API-Key' }) publicKey!: string;
  @Field(() => DateTimeISOResolver, { nullable: true }) lastUsedAt!: Date | null;
  @Field(() => DateTimeISOResolver, { nullable: true }) revokedAt!: Date | null;
  @Field(() => DateTimeISOResolver) createdAt!: Date;
}

@ObjectType('CreatedApiKey')
export class CreatedApiKeyType {
  @Field(() => ApiKeyType) key!: ApiKeyType;
  @Field(() => String, { description: 'Shown once; only a hash is stored' }) secret!: string;
}

@InputType('CreateApiKeyInput')
export class CreateApiKeyInputType {
  @Field(() => String) name!: string;
  @Field(() => [String]) permissions!: string[];
  @Field(() => [Int], { nullable: true }) accountIds?: number[];
  @Field(() => Int, { nullable: true }) requestsPerMinute?: number;
  @Field(() => Int, { nullable: true }) requestsPerHour?: number;
}
