/** GraphQL types for email changes (update, bulk actions). Enum values are upper case in GraphQL and map to the REST action names. */
import { Field, ID, InputType, ObjectType, registerEnumType } from '../type-graphql.js';

export enum BulkEmailAction {
  MARK_READ = 'mark_read',
  MARK_UNREAD = 'mark_unread',
  STAR = 'star',
  UNSTAR = 'unstar',
  ARCHIVE = 'archive',
  UNARCHIVE = 'unarchive',
  DELETE = 'delete',
}

registerEnumType(BulkEmailAction, {
  name: 'BulkEmailAction',
  description: 'What bulkEmails does to each email. Read and star changes and deletes are written back to the IMAP server; archive stays local.',
});

@ObjectType('BulkEmailResult', { description: 'The outcome for one id of a bulk call' })
export class BulkEmailResultType {
  @Field(() => ID) id!: number;
  @Field(() => Boolean) success!: boolean;
  @Field(() => String, { nullable: true, description: 'Why it failed, e.g. "Email not found"' }) error!: string | null;
}

@InputType('UpdateEmailInput', { description: 'Fields to change; omitted fields stay as they are' })
export class UpdateEmailInputType {
  @Field(() => Boolean, { nullable: true, description: 'Written back to the server as \\Seen' }) isRead?: boolean | null;
  @Field(() => Boolean, { nullable: true, description: 'Written back to the server as \\Flagged' }) isStarred?: boolean | null;
  @Field(() => Boolean, { nullable: true, description: 'Local only' }) isArchived?: boolean | null;
  @Field(() => [ID], { nullable: true, description: 'Replaces the manually assigned categories (rule-assigned ones stay)' })
  categoryIds?: string[] | null;
}
