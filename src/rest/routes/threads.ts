/** Seed 004 threads: the listing (paginated like the emails) and one thread with its messages, oldest first. */
import { GetThreadDocument, ListThreadsDocument } from '../../graphql/generated/operations.js';
import { aliased, int, pageParams } from '../coerce.js';
import { restPageMeta, restThread } from '../presenters/emails.js';
import { route } from '../route.js';

/** `GET /api/threads`, also at seed 004's `/api/emails/threads/` (read as an email id before: a 400). */
const listing = (path: string) =>
  route({
    method: 'GET',
    path,
    operation: ListThreadsDocument,
    variables: (req) => {
      const account = int(aliased(req.query, 'account_id', 'imap_server'), 'account_id', 1, 2_147_483_647);
      return {
        accountId: account === undefined ? undefined : String(account),
        ...pageParams(req),
      };
    },
    respond: (d) => ({ data: d.threads.nodes.map((t) => restThread(t)), meta: restPageMeta(d.threads) }),
  });

export const threadRoutes = [
  listing('/api/threads'),
  listing('/api/emails/threads'),
  route({
    method: 'GET',
    path: '/api/threads/:id',
    operation: GetThreadDocument,
    // `emails`: a page of the thread, oldest first (`message_count` is the whole thread's).
    variables: (req) => ({ id: req.params.id!, ...pageParams(req) }),
    respond: (d) => ({ data: restThread(d.thread) }),
  }),
];
