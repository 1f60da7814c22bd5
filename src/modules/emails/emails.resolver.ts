/** Thin GraphQL resolvers for reading emails: permission → service call; relations through per-request DataLoaders. */
import type DataLoader from 'dataloader';
import type { GraphQLResolveInfo } from 'graphql';
import { JSONObjectResolver } from 'graphql-scalars';
import { Arg, Authorized, Ctx, FieldResolver, ID, Info, Int, Query, Resolver, Root } from '../type-graphql.js';
import { selectsAny, selectsPath } from '../../graphql/selection.js';
import type { RowEmbed } from '../../db/sql.js';
import type { Loaders } from '../loaders.js';
import { parseId, withoutNulls } from '../../shared/ids.js';
import type { AppContext } from '../context.js';
import { requirePrincipal } from '../auth/index.js';
import type { Account } from '../accounts/index.js';
import { AccountType } from '../accounts/accounts.types.js';
import { AttachmentType } from '../attachments/attachments.types.js';
import { attachmentsEmbed } from '../attachments/attachments.service.js';
import type { AttachmentUrlSigner } from '../attachments/signed-urls.js';
import { CategoryType } from '../categories/categories.types.js';
import { categoriesEmbed, type CategorySummary } from '../categories/categories.service.js';
import type { AttachmentRow } from '../attachments/attachments.service.js';
import type { EmailFilter } from './email-query.js';
import type { EmailBodies, EmailDetail, EmailRow } from './email-row.js';
import type { EmailStats, FolderSummary, SearchHit } from './emails.query.service.js';
import { bareContentId, normalizeContentId, sanitizeEmailHtml } from './html-sanitizer.js';
import {
  EmailConnectionType,
  EmailFilterInput,
  EmailRawType,
  EmailSearchHitType,
  EmailStatsType,
  EmailType,
  FolderSummaryType,
} from './emails.types.js';

/** GraphQL filter input → service filter (ids parsed, nulls dropped). */
function toFilter(input: EmailFilterInput | null | undefined): EmailFilter {
  if (!input) return {};
  const { accountId, ...rest } = withoutNulls(input);
  return { ...rest, ...(accountId !== undefined ? { accountId: parseId(accountId, 'account_id') } : {}) };
}

/**
 * Relations of a page of emails that are read with its rows, in the same statement, when the query selects them: a
 * second query (its DataLoader's) is a PostgreSQL round trip, two process wake-ups, which cost more than the
 * subqueries on a machine where the server and PostgreSQL share the cores. The loaders are primed with them.
 */
interface PageEmbed {
  /** Fields of Email whose resolvers read the relation's loader. */
  fields: readonly string[];
  alias: string;
  embed: RowEmbed<unknown>;
  prime(loaders: Loaders, emailId: number, json: unknown): void;
}

function pageEmbed<T>(fields: readonly string[], alias: string, embed: RowEmbed<T>, loader: (l: Loaders) => DataLoader<number, T>): PageEmbed {
  return { fields, alias, embed, prime: (l, id, json) => loader(l).prime(id, embed.fromJson(json)) };
}

// Built on first use: the attachments module imports this one (asDate, scopes), so its exports are not yet
// initialized while this module is evaluated.
let embedsCache: readonly PageEmbed[] | undefined;
function pageEmbeds(): readonly PageEmbed[] {
  return (embedsCache ??= [
    pageEmbed(['categories'], '_categories', categoriesEmbed, (l) => l.categoriesByEmail),
    pageEmbed(['attachments', 'bodyHtml'], '_attachments', attachmentsEmbed, (l) => l.attachmentsByEmail),
  ]);
}

/** The embeds of the relations `info` selects under any of `prefixes` (paths to the Email objects), and their priming. */
function selectedEmbeds(info: GraphQLResolveInfo, prefixes: readonly (readonly string[])[]) {
  const embeds = pageEmbeds().filter((x) => x.fields.some((f) => prefixes.some((p) => selectsPath(info, [...p, f]))));
  return {
    embeds: Object.fromEntries(embeds.map((x) => [x.alias, x.embed])),
    prime(loaders: Loaders, rows: readonly EmailRow[]) {
      for (const x of embeds) for (const row of rows) x.prime(loaders, row.id, (row as unknown as Record<string, unknown>)[x.alias]);
    },
  };
}

const optionalId = (id: string | null | undefined, field: string) => (id === null || id === undefined ? undefined : parseId(id, field));

@Resolver(() => EmailType)
export class EmailsResolver {
  @Authorized('read')
  @Query(() => EmailConnectionType, { description: 'Emails visible to this key: page/perPage or first/after (keyset cursors)' })
  async emails(
    @Ctx() ctx: AppContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('filter', () => EmailFilterInput, { nullable: true }) filter?: EmailFilterInput,
    @Arg('sort', () => String, { nullable: true, description: 'received_at (default), subject or from_address' }) sort?: string,
    @Arg('order', () => String, { nullable: true, description: 'asc or desc (default)' }) order?: string,
    @Arg('page', () => Int, { nullable: true }) page?: number,
    @Arg('perPage', () => Int, { nullable: true, description: 'Default 50; values over 100 are clamped to 100' }) perPage?: number,
    @Arg('first', () => Int, { nullable: true, description: 'Cursor mode: page size (default 50, max 100)' }) first?: number,
    @Arg('after', () => String, { nullable: true, description: 'Cursor mode: endCursor of the previous page' }) after?: string,
    @Arg('snapshot', () => ID, { nullable: true, description: 'Page mode: the snapshot the first page reported; mail stored since is left out, so later pages do not shift' }) snapshot?: string,
  ): Promise<EmailConnectionType> {
    // The COUNT(*) is the costly part of a page: only run it when totals were asked for (cursor clients rarely do).
    const count = selectsAny(info, ['totalCount', 'totalPages']);
    const { embeds, prime } = selectedEmbeds(info, [['nodes'], ['edges', 'node']]);
    const r = await ctx.services.emails.list(
      requirePrincipal(ctx),
      { filter: toFilter(filter), sort, order, page, perPage, first, after, snapshot },
      { count, embeds, snapshot: selectsAny(info, ['snapshot']) },
    );
    prime(ctx.loaders, r.rows);
    const nodes = r.rows as unknown as EmailType[];
    const cursorOf = (row: EmailRow | undefined) => (row ? r.cursor(row) : null);
    return {
      nodes,
      // Built only when selected: most clients (and every REST route) read nodes, not edges.
      get edges() {
        return r.rows.map((row) => ({ cursor: r.cursor(row), node: row as unknown as EmailType }));
      },
      totalCount: r.total,
      pageInfo: {
        hasNextPage: r.hasNextPage,
        hasPreviousPage: r.hasPreviousPage,
        startCursor: cursorOf(r.rows[0]),
        endCursor: cursorOf(r.rows.at(-1)),
      },
      page: r.page,
      perPage: r.perPage,
      totalPages: r.totalPages,
      snapshot: r.snapshot,
    };
  }

  @Authorized('read')
  @Query(() => EmailType)
  email(@Arg('id', () => ID) id: string, @Ctx() ctx: AppContext): Promise<EmailDetail> {
    return ctx.services.emails.raw(requirePrincipal(ctx), parseId(id));
  }

  @Authorized('read')
  @Query(() => EmailRawType, { description: 'Stored bodies (HTML unsanitized: never render it) and every header' })
  emailRaw(@Arg('id', () => ID) id: string, @Ctx() ctx: AppContext): Promise<EmailDetail> {
    return ctx.services.emails.raw(requirePrincipal(ctx), parseId(id));
  }

  @Authorized('read')
  @Query(() => [EmailSearchHitType], { description: 'Ranked full-text search (q: at least 2 characters; limit default 20, max 50)' })
  async searchEmails(
    @Arg('q', () => String) q: string,
    @Ctx() ctx: AppContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('limit', () => Int, { nullable: true }) limit?: number,
    @Arg('accountId', () => ID, { nullable: true }) accountId?: string,
  ): Promise<SearchHit[]> {
    const account = optionalId(accountId, 'account_id');
    // The hits' categories (every REST search item has them) come in the search's own statement, as for a page.
    const { embeds, prime } = selectedEmbeds(info, [['email']]);
    const hits = await ctx.services.emails.search(requirePrincipal(ctx), q, limit, account !== undefined ? { accountId: account } : {}, { embeds });
    prime(ctx.loaders, hits.map((h) => h.email));
    return hits;
  }

  @Authorized('read')
  @Query(() => EmailStatsType, { description: 'Totals, threads and per-folder counts (of one account when given)' })
  emailStats(@Ctx() ctx: AppContext, @Arg('accountId', () => ID, { nullable: true }) accountId?: string): Promise<EmailStats> {
    return ctx.services.emails.stats(requirePrincipal(ctx), optionalId(accountId, 'account_id'));
  }

  @Authorized('read')
  @Query(() => [FolderSummaryType], { description: 'Folders per account with total and unread counts' })
  folders(@Ctx() ctx: AppContext, @Arg('accountId', () => ID, { nullable: true }) accountId?: string): Promise<FolderSummary[]> {
    return ctx.services.emails.folders(requirePrincipal(ctx), optionalId(accountId, 'account_id'));
  }

  @FieldResolver(() => String, { nullable: true })
  async bodyText(@Root() email: EmailRow, @Ctx() ctx: AppContext): Promise<string | null> {
    return (await bodiesOf(email, ctx))?.bodyText ?? null;
  }

  @FieldResolver(() => String, { nullable: true, description: 'Sanitized HTML; cid: images point to signed, short-lived attachment download URLs' })
  async bodyHtml(@Root() email: EmailRow, @Ctx() ctx: AppContext): Promise<string | null> {
    const bodies = await bodiesOf(email, ctx);
    const html = bodies?.bodyHtml;
    if (!html) return html ?? null;
    const attachments = await ctx.loaders.attachmentsByEmail.load(email.id);
    return sanitizeEmailHtml(html, { cidUrl: cidResolver(attachments, ctx.services.attachmentUrls), fallbackText: bodies.bodyText });
  }

  @FieldResolver(() => JSONObjectResolver, { description: 'Every header field of the message' })
  async headers(@Root() email: EmailRow, @Ctx() ctx: AppContext): Promise<Record<string, string>> {
    return (await bodiesOf(email, ctx))?.headers ?? {};
  }

  @FieldResolver(() => [AttachmentType])
  attachments(@Root() email: EmailRow, @Ctx() ctx: AppContext): Promise<AttachmentRow[]> {
    return ctx.loaders.attachmentsByEmail.load(email.id);
  }

  @FieldResolver(() => [CategoryType])
  categories(@Root() email: EmailRow, @Ctx() ctx: AppContext): Promise<CategorySummary[]> {
    return ctx.loaders.categoriesByEmail.load(email.id);
  }

  // Another record than the one a mutation changed: `write` alone must not read it through a mutation's result.
  @Authorized('read')
  @FieldResolver(() => AccountType, { nullable: true })
  async account(@Root() email: EmailRow, @Ctx() ctx: AppContext): Promise<Account | null> {
    return email.accountId === null ? null : ctx.loaders.accountById.load(email.accountId);
  }
}

/** Bodies already on the row (email(id) reads them) or batched for the whole page. */
function bodiesOf(email: EmailRow | EmailDetail, ctx: AppContext): Promise<EmailBodies | null> | EmailBodies {
  return 'headers' in email ? email : ctx.loaders.emailBodies.load(email.id);
}

/**
 * cid: → a signed URL of the attachment with that Content-ID (an `<img>` cannot send API-key headers); null: the
 * sanitizer drops the src.
 */
function cidResolver(attachments: readonly AttachmentRow[], urls: AttachmentUrlSigner): (cid: string) => string | null {
  const withCid = attachments.filter((a) => a.contentId);
  // A `cid:` URL comes decoded once: it names a header written with escapes (decoded too), or, per RFC 2392, the
  // header as written. The latter go in last, so they win where the two forms of different headers meet.
  const byCid = new Map([
    ...withCid.map((a) => [normalizeContentId(a.contentId!), a.id] as const),
    ...withCid.map((a) => [bareContentId(a.contentId!), a.id] as const),
  ]);
  return (cid) => {
    const id = byCid.get(cid); // normalised by the sanitizer
    return id === undefined ? null : urls.sign(id);
  };
}
