/** GraphQL types of the emails read API. Explicit type functions everywhere (no emitDecoratorMetadata). */
import { DateTimeISOResolver, JSONObjectResolver } from 'graphql-scalars';
import { Field, Float, ID, InputType, Int, ObjectType } from '../type-graphql.js';

@ObjectType('MailAddress')
export class MailAddressType {
  @Field(() => String) email!: string;
  @Field(() => String) name!: string;
}

/**
 * An email. Relations (attachments, categories, account, thread) and the bodies/headers resolve per page through
 * DataLoaders (EmailsResolver), so a page costs a constant number of queries whatever its size.
 */
@ObjectType('Email')
export class EmailType {
  @Field(() => ID) id!: number;
  @Field(() => ID, { nullable: true, description: 'Null once the account was deleted with its mail kept' }) accountId!: number | null;
  @Field(() => String, { description: 'IMAP UID in its folder' }) messageUid!: string;
  @Field(() => String, { nullable: true }) messageId!: string | null;
  @Field(() => String) folder!: string;
  @Field(() => String, { nullable: true }) fromAddress!: string | null;
  @Field(() => String, { nullable: true }) fromName!: string | null;
  @Field(() => [MailAddressType]) toAddresses!: MailAddressType[];
  @Field(() => [MailAddressType]) ccAddresses!: MailAddressType[];
  @Field(() => String, { nullable: true }) replyTo!: string | null;
  @Field(() => String, { nullable: true }) subject!: string | null;
  @Field(() => DateTimeISOResolver) receivedAt!: Date;
  @Field(() => DateTimeISOResolver, { nullable: true, description: 'The Date header' }) sentAt!: Date | null;
  @Field(() => DateTimeISOResolver, { nullable: true }) readAt!: Date | null;
  @Field(() => Boolean) isRead!: boolean;
  @Field(() => Boolean) isStarred!: boolean;
  @Field(() => Boolean) isArchived!: boolean;
  @Field(() => Boolean) hasAttachments!: boolean;
  @Field(() => Int) attachmentCount!: number;
  @Field(() => String, { nullable: true }) inReplyTo!: string | null;
  @Field(() => [String]) references!: string[];
  @Field(() => Int, { description: 'RFC822 size in bytes' }) size!: number;
  @Field(() => String, { nullable: true, description: 'Why the MIME structure could not be parsed (headers and raw are kept)' })
  parseError!: string | null;
  @Field(() => String, { nullable: true, description: 'A local change that could not be written back to the IMAP server' })
  syncError!: string | null;
  @Field(() => ID, { nullable: true }) threadId!: number | null;
  @Field(() => DateTimeISOResolver) createdAt!: Date;
  @Field(() => DateTimeISOResolver) updatedAt!: Date;
}

@InputType('EmailFilter', { description: 'Filters of the email listing; all given filters must match' })
export class EmailFilterInput {
  @Field(() => ID, { nullable: true }) accountId?: string;
  @Field(() => String, { nullable: true, description: 'IMAP folder, exact' }) folder?: string;
  @Field(() => String, { nullable: true, description: 'Sender address or name, partial and case-insensitive' }) from?: string;
  @Field(() => String, { nullable: true, description: 'Subject, partial and case-insensitive' }) subject?: string;
  @Field(() => String, { nullable: true, description: 'Full text over subject, sender, recipients and body (web search syntax)' })
  search?: string;
  @Field(() => Boolean, { nullable: true }) hasAttachments?: boolean;
  @Field(() => Boolean, { nullable: true }) isRead?: boolean;
  @Field(() => Boolean, { nullable: true }) isStarred?: boolean;
  @Field(() => Boolean, { nullable: true }) isArchived?: boolean;
  @Field(() => String, { nullable: true, description: 'Y-m-d (UTC): received on or after that day' }) since?: string;
  @Field(() => String, { nullable: true, description: 'Y-m-d (UTC): received on or before that day (inclusive)' }) until?: string;
  @Field(() => Boolean, { nullable: true, description: 'Threaded view (seed 004 `thread=true`): one email per thread, its newest match; totalCount counts threads' })
  threaded?: boolean;
}

@ObjectType('PageInfo')
export class PageInfoType {
  @Field(() => Boolean) hasNextPage!: boolean;
  @Field(() => Boolean) hasPreviousPage!: boolean;
  @Field(() => String, { nullable: true }) startCursor!: string | null;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@ObjectType('EmailEdge')
export class EmailEdgeType {
  @Field(() => String) cursor!: string;
  @Field(() => EmailType) node!: EmailType;
}

@ObjectType('EmailConnection', { description: 'A page of emails: by page/perPage or by first/after (keyset cursors)' })
export class EmailConnectionType {
  @Field(() => [EmailType]) nodes!: EmailType[];
  @Field(() => [EmailEdgeType]) edges!: EmailEdgeType[];
  @Field(() => Int) totalCount!: number;
  @Field(() => PageInfoType) pageInfo!: PageInfoType;
  @Field(() => Int, { nullable: true, description: 'The page number (null when paginating with first/after)' }) page!: number | null;
  @Field(() => Int) perPage!: number;
  @Field(() => Int) totalPages!: number;
  @Field(() => ID, {
    nullable: true,
    description: 'The largest email id when this listing was read (or the snapshot given): pass it as `snapshot` with the next pages',
  })
  snapshot!: string | null;
}

@ObjectType('EmailSearchHit')
export class EmailSearchHitType {
  @Field(() => EmailType) email!: EmailType;
  @Field(() => Float, { description: 'ts_rank (subject weighs most, then sender/recipients, then body)' }) rank!: number;
  @Field(() => String, { description: 'Excerpt with the matches in <mark>…</mark>; the rest is HTML-escaped text' }) snippet!: string;
}

@ObjectType('EmailRaw', { description: 'The stored bodies (HTML not sanitized) and every header' })
export class EmailRawType {
  @Field(() => ID) id!: number;
  @Field(() => String, { nullable: true }) subject!: string | null;
  @Field(() => String, { nullable: true }) bodyText!: string | null;
  @Field(() => String, { nullable: true }) bodyHtml!: string | null;
  @Field(() => JSONObjectResolver) headers!: Record<string, string>;
}

@ObjectType('FolderSummary')
export class FolderSummaryType {
  @Field(() => ID, { nullable: true }) accountId!: number | null;
  @Field(() => String) folder!: string;
  @Field(() => Int) total!: number;
  @Field(() => Int) unread!: number;
}

@ObjectType('EmailStats')
export class EmailStatsType {
  @Field(() => Int) totalEmails!: number;
  @Field(() => Int) unreadEmails!: number;
  @Field(() => Int) starredEmails!: number;
  @Field(() => Int) archivedEmails!: number;
  @Field(() => Int) withAttachments!: number;
  @Field(() => Int) totalThreads!: number;
  @Field(() => [FolderSummaryType]) folders!: FolderSummaryType[];
  @Field(() => DateTimeISOResolver, { nullable: true }) latestEmailAt!: Date | null;
  @Field(() => DateTimeISOResolver, { nullable: true }) oldestEmailAt!: Date | null;
}
