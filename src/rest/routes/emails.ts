/**
 * Seed 000 "Emails" (read side) and the seed 004 extras. `/api/emails/search` and `/api/emails/stats` are static
 * segments, which Fastify matches before `/api/emails/:id`; ids are validated as positive integers by the resolvers.
 */
import {
  EmailStatsDocument,
  EmailThreadDocument,
  FoldersDocument,
  OpenEmailDocument,
  GetEmailDocument,
  GetEmailRawDocument,
  ListEmailsDocument,
  SearchEmailsDocument,
} from '../../graphql/generated/operations.js';
import { MAX_SEARCH_LIMIT } from '../../modules/emails/index.js';
import { aliased, bool, capped, date, int, pageParams, sortParams, text } from '../coerce.js';
import { restEmail, restEmailStats, restFolder, restPageMeta, restStatistics } from '../presenters/emails.js';
import { headVariant, route, type RestRequest } from '../route.js';

/** `GET /api/emails` answers its snapshot here; pass it back as `?snapshot=` with the next pages (README, "Listing"). */
export const SNAPSHOT_HEADER = 'x-listing-snapshot';

const accountIdOf = (value: unknown) => {
  const n = int(value, 'account_id', 1, 2_147_483_647);
  return n === undefined ? undefined : String(n);
};
const accountId = (req: RestRequest) => accountIdOf(req.query.account_id);

export const emailRoutes = [
  route({
    method: 'GET',
    path: '/api/emails',
    operation: ListEmailsDocument,
    // Seed 000's parameters, and seed 004's spellings of the same (q, date_from, date_to, ordering, page_size,
    // imap_server) with its threaded view (thread=true).
    variables: (req) => {
      const q = req.query;
      const one = (name: string, alias: string) => aliased(q, name, alias);
      return {
        ...pageParams(req),
        snapshot: text(q.snapshot, 'snapshot'),
        ...sortParams(q),
        filter: {
          accountId: accountIdOf(one('account_id', 'imap_server')),
          folder: text(q.folder, 'folder'),
          from: text(q.from, 'from'),
          subject: text(q.subject, 'subject'),
          search: text(one('search', 'q'), 'search'),
          hasAttachments: bool(q.has_attachments, 'has_attachments'),
          isRead: bool(q.is_read, 'is_read'),
          since: date(one('since', 'date_from'), 'since'),
          until: date(one('until', 'date_to'), 'until'),
          threaded: bool(q.thread, 'thread'),
        },
      };
    },
    // The listing's snapshot goes in a header: seed 000's meta has exactly the four page fields.
    respond: (d) => ({ data: d.emails.nodes.map(restEmail), meta: restPageMeta(d.emails), headers: { [SNAPSHOT_HEADER]: d.emails.snapshot ?? '0' } }),
  }),
  route({
    method: 'GET',
    path: '/api/emails/search',
    operation: SearchEmailsDocument,
    variables: (req) => ({ q: text(req.query.q, 'q') ?? '', limit: capped(req.query.limit, 'limit', MAX_SEARCH_LIMIT) }),
    respond: (d) => ({ data: d.searchEmails.map((h) => ({ ...restEmail(h.email), rank: h.rank, snippet: h.snippet })) }),
  }),
  route({
    method: 'GET',
    path: '/api/emails/stats',
    operation: EmailStatsDocument,
    variables: (req) => ({ accountId: accountId(req) }),
    respond: (d) => ({ data: restEmailStats(d.emailStats) }),
  }),
  route({
    method: 'GET',
    path: '/api/emails/:id',
    // Reading an email marks it read (seed 000), here and on the IMAP server; HEAD only looks.
    operation: OpenEmailDocument,
    variables: (req) => ({ id: req.params.id! }),
    respond: (d) => ({ data: restEmail(d.openEmail) }),
    head: headVariant(GetEmailDocument, (d) => ({ data: restEmail(d.email) })),
  }),
  route({
    method: 'GET',
    path: '/api/emails/:id/raw',
    operation: GetEmailRawDocument,
    variables: (req) => ({ id: req.params.id! }),
    respond: ({ emailRaw: r }) => ({
      data: { id: Number(r.id), subject: r.subject ?? null, body_text: r.bodyText ?? null, body_html: r.bodyHtml ?? null, headers: r.headers },
    }),
  }),
  route({
    method: 'GET',
    path: '/api/emails/:id/thread',
    operation: EmailThreadDocument,
    // A page of the thread (a mailing-list thread can hold 10,000 messages): `data` keeps seed 004's array shape.
    variables: (req) => ({ id: req.params.id!, ...pageParams(req) }),
    respond: ({ emailThreadPage: p }) => ({ data: p.nodes.map(restEmail), meta: restPageMeta(p) }),
  }),
  route({
    method: 'GET',
    path: '/api/folders',
    operation: FoldersDocument,
    variables: (req) => ({ accountId: accountId(req) }),
    respond: (d) => ({ data: d.folders.map(restFolder) }),
  }),
  route({
    method: 'GET',
    path: '/api/stats',
    operation: EmailStatsDocument,
    variables: (req) => ({ accountId: accountId(req) }),
    respond: (d) => ({ data: restStatistics(d.emailStats) }),
  }),
  // Seed 004's own paths (`/api/emails/statistics/`, `/api/emails/folders/`; threads in threads.ts): they used to be
  // read as an email id and answered 400 "id: must be a positive integer id".
  route({
    method: 'GET',
    path: '/api/emails/statistics',
    operation: EmailStatsDocument,
    variables: (req) => ({ accountId: accountId(req) }),
    respond: (d) => ({ data: restStatistics(d.emailStats) }),
  }),
  route({
    method: 'GET',
    path: '/api/emails/folders',
    operation: FoldersDocument,
    variables: (req) => ({ accountId: accountId(req) }),
    // Seed 004's shape: the folder names (of every visible account, once each); /api/folders has the counts.
    respond: (d) => ({ data: [...new Set(d.folders.map((f) => f.folder))] }),
  }),
];
