/**
 * GraphQL types of the event stream. `Event` is the raw outbox row (what `events(after)` replays); the specific
 * subscriptions carry typed payloads that all start with the same envelope (eventId, seq, accountId, createdAt).
 */
import { DateTimeISOResolver, JSONObjectResolver } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from '../type-graphql.js';

@ObjectType('Event', { description: 'One stored event of the outbox' })
export class EventType {
  @Field(() => String, { description: 'Position in the stream (a bigint as a string); resume with events(after: seq)' }) seq!: string;
  @Field(() => String, { description: 'Deterministic id: the same happening always has the same id' }) id!: string;
  @Field(() => String, { description: 'email.received, email.updated, email.deleted, email.moved, email.categorized, voicemail.received, sync.completed, sync.failed or thread.updated' })
  type!: string;
  @Field(() => ID, { nullable: true }) accountId!: number | null;
  @Field(() => JSONObjectResolver) payload!: Record<string, unknown>;
  @Field(() => DateTimeISOResolver) createdAt!: Date;
}

/** The fields every specific event starts with (a base class; not emitted, since no field returns it). */
@ObjectType()
class EventEnvelope {
  @Field(() => String, { description: 'The event id (deterministic)' }) eventId!: string;
  @Field(() => String, { description: 'Position in the stream; resume with events(after: seq)' }) seq!: string;
  @Field(() => ID) accountId!: number;
  @Field(() => DateTimeISOResolver) createdAt!: Date;
}

@ObjectType('EmailReceivedEvent')
export class EmailReceivedEventType extends EventEnvelope {
  @Field(() => ID) emailId!: number;
  @Field(() => String) folder!: string;
  @Field(() => String, { nullable: true }) messageId!: string | null;
  @Field(() => String, { nullable: true }) subject!: string | null;
  @Field(() => String, { nullable: true }) fromAddress!: string | null;
  @Field(() => String, { nullable: true }) fromName!: string | null;
  @Field(() => DateTimeISOResolver, { nullable: true }) receivedAt!: Date | null;
  @Field(() => Boolean) hasAttachments!: boolean;
}

@ObjectType('EmailUpdatedEvent')
export class EmailUpdatedEventType extends EventEnvelope {
  @Field(() => ID) emailId!: number;
  @Field(() => String) folder!: string;
  @Field(() => JSONObjectResolver, { description: 'The changed fields and their new values (isRead, isStarred, isArchived, flags, categories; syncError when a change could not be written to the IMAP server, null once a later one was)' })
  changes!: Record<string, unknown>;
}

@ObjectType('EmailEvent', { description: 'An event about one email whose payload has no fixed shape yet (categorized, voicemail)' })
export class EmailEventType extends EventEnvelope {
  @Field(() => ID, { nullable: true }) emailId!: number | null;
  @Field(() => JSONObjectResolver) payload!: Record<string, unknown>;
}

@ObjectType('SyncStatusEvent', { description: 'The end of a sync pass: completed (with counts) or failed (with the error)' })
export class SyncStatusEventType extends EventEnvelope {
  @Field(() => String, { description: 'completed or failed' }) status!: string;
  @Field(() => String) runId!: string;
  @Field(() => Int, { nullable: true }) new!: number | null;
  @Field(() => Int, { nullable: true }) updated!: number | null;
  @Field(() => Int, { nullable: true }) deleted!: number | null;
  @Field(() => Int, { nullable: true }) failed!: number | null;
  @Field(() => Int, { nullable: true }) durationMs!: number | null;
  @Field(() => [String], { nullable: true }) folders!: string[] | null;
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field(() => String, { nullable: true }) folder!: string | null;
}

@ObjectType('ThreadUpdatedEvent', { description: 'Emails joined a conversation (seed 004 "Thread updates"): a reply arrived, or two threads turned out to be one' })
export class ThreadUpdatedEventType extends EventEnvelope {
  @Field(() => ID) threadId!: number;
  @Field(() => [ID], { description: 'The emails that joined the thread with this change' }) emailIds!: number[];
  @Field(() => Int, { description: 'The thread\'s size after the change' }) messageCount!: number;
  @Field(() => DateTimeISOResolver, { nullable: true }) lastMessageAt!: Date | null;
  @Field(() => String, { nullable: true }) subject!: string | null;
}
