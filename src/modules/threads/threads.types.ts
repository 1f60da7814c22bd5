/** GraphQL types for threads (seed 004). */
import { DateTimeISOResolver } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from '../type-graphql.js';
import { EmailType } from '../emails/index.js';

@ObjectType('Thread', { description: 'A conversation: emails linked by In-Reply-To / References' })
export class ThreadType {
  @Field(() => ID) id!: number;
  @Field(() => ID, { nullable: true }) accountId!: number | null;
  @Field(() => String, { nullable: true, description: 'Subject of the first message, without Re:/Fwd: prefixes' }) subject!: string | null;
  @Field(() => Int) messageCount!: number;
  @Field(() => DateTimeISOResolver, { nullable: true }) lastMessageAt!: Date | null;
  @Field(() => DateTimeISOResolver) createdAt!: Date;
}

@ObjectType('ThreadPage')
export class ThreadPageType {
  @Field(() => [ThreadType]) nodes!: ThreadType[];
  @Field(() => Int) totalCount!: number;
  @Field(() => Int) page!: number;
  @Field(() => Int) perPage!: number;
  @Field(() => Int) totalPages!: number;
}

@ObjectType('EmailThreadPage', { description: "A page of an email's thread, oldest first" })
export class EmailThreadPageType {
  @Field(() => [EmailType]) nodes!: EmailType[];
  @Field(() => Int, { description: 'Emails in the whole thread (1 for an email without one)' }) totalCount!: number;
  @Field(() => Int) page!: number;
  @Field(() => Int) perPage!: number;
  @Field(() => Int) totalPages!: number;
}
