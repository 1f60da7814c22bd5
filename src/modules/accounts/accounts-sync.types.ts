import { DateTimeISOResolver } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType } from '../type-graphql.js';

@InputType('SyncAccountInput')
export class SyncAccountInputType {
  @Field(() => String, { nullable: true, description: 'Sync only this folder' }) folder?: string;
  @Field(() => Boolean, { nullable: true, description: 'Re-examine every message, not only new ones' }) fullResync?: boolean;
  @Field(() => String, { nullable: true, description: 'Only messages since this date (Y-m-d)' }) sinceDate?: string;
}

@ObjectType('SyncResult')
export class SyncResultType {
  @Field(() => Int) new!: number;
  @Field(() => Int) updated!: number;
  @Field(() => Int) deleted!: number;
  @Field(() => Int) failed!: number;
  @Field(() => Int) durationMs!: number;
}

@ObjectType('SyncProgress')
export class SyncProgressType {
  @Field(() => ID) accountId!: number;
  @Field(() => String) runId!: string;
  @Field(() => String) folder!: string;
  @Field(() => Int) done!: number;
  @Field(() => Int) total!: number;
}

@ObjectType('FolderSyncState', { description: 'Sync progress of one folder' })
export class FolderSyncStateType {
  @Field(() => String) folder!: string;
  @Field(() => Float, { nullable: true }) uidValidity!: number | null;
  @Field(() => Float, { description: 'Every UID below this is stored' }) uidNext!: number;
  @Field(() => Int, { description: 'Messages in the folder at the last pass' }) messages!: number;
  @Field(() => DateTimeISOResolver, { nullable: true }) lastSyncAt!: Date | null;
  @Field(() => String, { nullable: true }) lastError!: string | null;
}
