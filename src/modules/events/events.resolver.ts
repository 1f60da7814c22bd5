/**
 * GraphQL subscriptions over the durable event stream. Each declares its own `subscribe` (type-graphql's pubSub is
 * off): it checks the `read` permission and the account's visibility, then subscribes to the process's EventStream.
 */
import { z } from 'zod';
import { EVENT_TYPES, OVERFLOW, type StoredEvent, type StreamItem } from '../../events/index.js';
import { AppError, ErrorCode } from '../../shared/errors.js';
import { inboxCase } from '../../shared/folders.js';
import { parseId } from '../../shared/ids.js';
import { parseInput } from '../../shared/validation.js';
import { Arg, Authorized, ID, Resolver, Root, Subscription } from '../type-graphql.js';
import { assertPermissions, requirePrincipal } from '../auth/index.js';
import type { AppContext } from '../context.js';
import type { EventFilter } from './events.service.js';
import { EmailEventType, EmailReceivedEventType, EmailUpdatedEventType, EventType, SyncStatusEventType, ThreadUpdatedEventType } from './events.types.js';

type Args = Record<string, unknown>;

const EventsArgs = z.object({
  types: z.array(z.enum(EVENT_TYPES)).max(EVENT_TYPES.length).nullish(),
  after: z.string().min(1).max(100).nullish(),
});

/** Checks the caller and the optional `accountId` argument; returns the filter fixed by the arguments. */
async function baseFilter(context: unknown, args: Args): Promise<{ ctx: AppContext; filter: EventFilter }> {
  const ctx = context as AppContext;
  const principal = requirePrincipal(ctx);
  assertPermissions(principal, ['read']);
  const filter: EventFilter = {};
  if (args.accountId !== undefined && args.accountId !== null) {
    filter.accountId = (await ctx.services.accounts.get(principal, parseId(String(args.accountId), 'accountId'))).id;
  }
  return { ctx, filter };
}

/** A `subscribe` for live events of fixed types (folder filter when the subscription has that argument). */
function liveOf(...types: string[]) {
  return async ({ args, context }: { args: Args; context: unknown }) => {
    const { ctx, filter } = await baseFilter(context, args);
    // INBOX is case-insensitive (RFC 3501), as in every other folder filter: `inbox` must not silently match nothing.
    const folder = typeof args.folder === 'string' ? inboxCase(args.folder) : undefined;
    return ctx.services.events.live(requirePrincipal(ctx), { ...filter, types, folder });
  };
}

/** The event, or the error that ends a subscription whose client fell too far behind. */
function eventOf(item: StreamItem): StoredEvent {
  if (item === OVERFLOW) {
    throw new AppError(ErrorCode.RATE_LIMITED, 'Subscriber too slow: too many undelivered events; resubscribe with events(after: <last seq>)');
  }
  return item;
}

function envelope(e: StoredEvent) {
  return { eventId: e.id, seq: e.seq, accountId: e.accountId ?? 0, createdAt: e.createdAt };
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' ? v : null);

@Resolver()
export class EventsResolver {
  @Authorized('read')
  @Subscription(() => EmailReceivedEventType, {
    description: 'New emails (synced from the server) of the visible accounts, or of one account and folder',
    subscribe: liveOf('email.received'),
  })
  emailReceived(
    @Root() item: StreamItem,
    @Arg('accountId', () => ID, { nullable: true }) _accountId: string | null,
    @Arg('folder', () => String, { nullable: true }) _folder: string | null,
  ): EmailReceivedEventType {
    const e = eventOf(item);
    const p = e.payload;
    return {
      ...envelope(e), emailId: Number(p.emailId), folder: String(p.folder), messageId: str(p.messageId), subject: str(p.subject),
      fromAddress: str(p.fromAddress), fromName: str(p.fromName), receivedAt: str(p.receivedAt) ? new Date(str(p.receivedAt)!) : null,
      hasAttachments: p.hasAttachments === true,
    };
  }

  @Authorized('read')
  @Subscription(() => EmailUpdatedEventType, { description: 'Flag, archive and category changes, and write-back failures (syncError)', subscribe: liveOf('email.updated') })
  emailUpdated(@Root() item: StreamItem, @Arg('accountId', () => ID, { nullable: true }) _accountId: string | null): EmailUpdatedEventType {
    const e = eventOf(item);
    const changes = e.payload.changes;
    return { ...envelope(e), emailId: Number(e.payload.emailId), folder: String(e.payload.folder), changes: (changes ?? {}) as Record<string, unknown> };
  }

  @Authorized('read')
  @Subscription(() => EmailEventType, { description: 'Emails categorized', subscribe: liveOf('email.categorized') })
  emailCategorized(@Root() item: StreamItem, @Arg('accountId', () => ID, { nullable: true }) _accountId: string | null): EmailEventType {
    return emailEvent(eventOf(item));
  }

  @Authorized('read')
  @Subscription(() => EmailEventType, { description: 'Voicemails received', subscribe: liveOf('voicemail.received') })
  voicemailReceived(@Root() item: StreamItem, @Arg('accountId', () => ID, { nullable: true }) _accountId: string | null): EmailEventType {
    return emailEvent(eventOf(item));
  }

  @Authorized('read')
  @Subscription(() => ThreadUpdatedEventType, { description: 'Emails that joined a conversation (thread.updated)', subscribe: liveOf('thread.updated') })
  threadUpdated(@Root() item: StreamItem, @Arg('accountId', () => ID, { nullable: true }) _accountId: string | null): ThreadUpdatedEventType {
    const e = eventOf(item);
    const p = e.payload;
    return {
      ...envelope(e), threadId: Number(p.threadId), emailIds: Array.isArray(p.emailIds) ? p.emailIds.map(Number) : [], messageCount: int(p.messageCount) ?? 0,
      lastMessageAt: str(p.lastMessageAt) ? new Date(str(p.lastMessageAt)!) : null, subject: str(p.subject),
    };
  }

  @Authorized('read')
  @Subscription(() => SyncStatusEventType, { description: 'Sync passes that completed or failed', subscribe: liveOf('sync.completed', 'sync.failed') })
  syncStatus(@Root() item: StreamItem, @Arg('accountId', () => ID, { nullable: true }) _accountId: string | null): SyncStatusEventType {
    const e = eventOf(item);
    const p = e.payload;
    return {
      ...envelope(e), status: e.type === 'sync.completed' ? 'completed' : 'failed', runId: String(p.runId ?? ''),
      new: int(p.new), updated: int(p.updated), deleted: int(p.deleted), failed: int(p.failed), durationMs: int(p.durationMs),
      folders: Array.isArray(p.folders) ? p.folders.map(String) : null, error: str(p.error), folder: str(p.folder),
    };
  }

  @Authorized('read')
  @Subscription(() => EventType, {
    description: 'Every visible event (optionally of some types or one account). With `after` (an event id or seq), the stored events after it are replayed in order first, then live ones follow with no gap and no duplicate.',
    subscribe: async ({ args, context }) => {
      const { ctx, filter } = await baseFilter(context, args);
      const parsed = parseInput(EventsArgs, { types: args.types, after: args.after });
      return ctx.services.events.replayThenLive(requirePrincipal(ctx), { ...filter, types: parsed.types ?? undefined }, parsed.after ?? null);
    },
  })
  events(
    @Root() item: StreamItem,
    @Arg('types', () => [String], { nullable: true }) _types: string[] | null,
    @Arg('accountId', () => ID, { nullable: true }) _accountId: string | null,
    @Arg('after', () => String, { nullable: true, description: 'The last event id or seq seen' }) _after: string | null,
  ): EventType {
    return eventOf(item);
  }
}

function emailEvent(e: StoredEvent): EmailEventType {
  const id = e.payload.emailId;
  return { ...envelope(e), emailId: typeof id === 'number' ? id : null, payload: e.payload };
}
