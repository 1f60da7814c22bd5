/** Thin GraphQL resolvers for threads (seed 004), and the `Email.thread` relation. */
import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from '../type-graphql.js';
import { parseId } from '../../shared/ids.js';
import type { AppContext } from '../context.js';
import { requirePrincipal } from '../auth/index.js';
import { EmailType, threadSlice, type EmailRow } from '../emails/index.js';
import { positive } from '../emails/emails.query.service.js';
import type { ThreadPage, ThreadRow } from './threads.service.js';
import { EmailThreadPageType, ThreadPageType, ThreadType } from './threads.types.js';

/** How many other emails of its thread an email lists (`threadEmails`, seed 004's `thread_emails`). */
const THREAD_EMAILS_DEFAULT = 50;
const THREAD_EMAILS_MAX = 100;

/** A thread can hold 10,000 messages (a mailing list): its emails come a page at a time. */
const PAGED = 'A page at a time: `page` (default 1) of `perPage` (default 50, values over 100 clamped to 100).';

@Resolver(() => ThreadType)
export class ThreadsResolver {
  @Authorized('read')
  @Query(() => ThreadPageType, { description: 'Threads visible to this key, most recent activity first' })
  async threads(
    @Ctx() ctx: AppContext,
    @Arg('accountId', () => ID, { nullable: true }) accountId?: string,
    @Arg('page', () => Int, { nullable: true }) page?: number,
    @Arg('perPage', () => Int, { nullable: true, description: 'Default 50; values over 100 are clamped to 100' }) perPage?: number,
  ): Promise<ThreadPageType> {
    const r: ThreadPage = await ctx.services.threads.list(requirePrincipal(ctx), {
      accountId: accountId == null ? null : parseId(accountId, 'account_id'),
      page,
      perPage,
    });
    return { nodes: r.rows, totalCount: r.total, page: r.page, perPage: r.perPage, totalPages: r.totalPages };
  }

  @Authorized('read')
  @Query(() => ThreadType)
  thread(@Arg('id', () => ID) id: string, @Ctx() ctx: AppContext): Promise<ThreadRow> {
    return ctx.services.threads.get(requirePrincipal(ctx), parseId(id));
  }

  @Authorized('read')
  @Query(() => [EmailType], { description: `The messages of the email's thread, oldest first (just the email when it has no thread). ${PAGED}` })
  async emailThread(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: AppContext,
    @Arg('page', () => Int, { nullable: true }) page?: number,
    @Arg('perPage', () => Int, { nullable: true }) perPage?: number,
  ): Promise<EmailRow[]> {
    return (await ctx.services.emails.threadOf(requirePrincipal(ctx), parseId(id), { page, perPage })).rows;
  }

  @Authorized('read')
  @Query(() => EmailThreadPageType, { description: `emailThread with the thread's size. ${PAGED}` })
  async emailThreadPage(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: AppContext,
    @Arg('page', () => Int, { nullable: true }) page?: number,
    @Arg('perPage', () => Int, { nullable: true }) perPage?: number,
  ): Promise<EmailThreadPageType> {
    const r = await ctx.services.emails.threadOf(requirePrincipal(ctx), parseId(id), { page, perPage });
    return { nodes: r.rows as unknown as EmailType[], totalCount: r.total, page: r.page, perPage: r.perPage, totalPages: r.totalPages };
  }

  // Other emails: `write` alone must not read them through a mutation's result (updateEmail → thread → emails).
  @Authorized('read')
  @FieldResolver(() => [EmailType], { description: `Oldest first. ${PAGED} messageCount is the whole thread's.` })
  emails(
    @Root() thread: ThreadRow,
    @Ctx() ctx: AppContext,
    @Arg('page', () => Int, { nullable: true }) page?: number,
    @Arg('perPage', () => Int, { nullable: true }) perPage?: number,
  ): Promise<EmailRow[]> {
    return ctx.loaders.emailsByThread.load({ threadId: thread.id, ...threadSlice({ page, perPage }).slice });
  }
}

@Resolver(() => EmailType)
export class EmailThreadResolver {
  // Another record than the one a mutation changed: `write` alone must not read it through a mutation's result.
  @Authorized('read')
  @FieldResolver(() => ThreadType, { nullable: true })
  thread(@Root() email: EmailRow, @Ctx() ctx: AppContext): Promise<ThreadRow | null> | null {
    return email.threadId === null ? null : ctx.loaders.threadById.load(email.threadId);
  }

  // A count, not another record: also in a mutation's result for a `write`-only key (PATCH answers list fields).
  @FieldResolver(() => Int, { description: "Messages in the email's thread (seed 004 `thread_count`): its messageCount, 1 without a thread" })
  async threadCount(@Root() email: EmailRow, @Ctx() ctx: AppContext): Promise<number> {
    if (email.threadId === null) return 1;
    return (await ctx.loaders.threadById.load(email.threadId))?.messageCount ?? 1;
  }

  @Authorized('read')
  @FieldResolver(() => [EmailType], {
    description: `The other emails of its thread (seed 004 \`thread_emails\`), oldest first: the thread's first \`limit\` (default ${THREAD_EMAILS_DEFAULT}, at most ${THREAD_EMAILS_MAX}) besides this one. emailThreadPage pages through all of them.`,
  })
  async threadEmails(
    @Root() email: EmailRow,
    @Ctx() ctx: AppContext,
    @Arg('limit', () => Int, { nullable: true }) limit?: number,
  ): Promise<EmailRow[]> {
    if (email.threadId === null) return [];
    const n = Math.min(positive(limit, 'limit', THREAD_EMAILS_DEFAULT), THREAD_EMAILS_MAX);
    // One more than asked: the email itself may be among them.
    const rows = await ctx.loaders.emailsByThread.load({ threadId: email.threadId, offset: 0, limit: n + 1 });
    return rows.filter((r) => r.id !== email.id).slice(0, n);
  }
}
