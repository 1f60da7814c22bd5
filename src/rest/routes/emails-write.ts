/**
 * Seed 000 "Emails": update, bulk actions and delete. Read and star changes and deletes are written back to the IMAP
 * server.
 */
import { BulkEmailsDocument, DeleteEmailDocument, UpdateEmailDocument, type BulkEmailAction } from '../../graphql/generated/operations.js';
import { AppError } from '../../shared/errors.js';
import { body, bool, params, queryList } from '../coerce.js';
import { restId } from '../presenters.js';
import { restEmail } from '../presenters/emails.js';
import { route } from '../route.js';

const ACTIONS: Record<string, BulkEmailAction> = {
  mark_read: 'MARK_READ',
  mark_unread: 'MARK_UNREAD',
  star: 'STAR',
  unstar: 'UNSTAR',
  archive: 'ARCHIVE',
  unarchive: 'UNARCHIVE',
  delete: 'DELETE',
};
const MAX_IDS = 1000;

/** An array of positive integer ids (JSON numbers or digit strings); `empty` says whether [] is allowed. */
function idArray(value: unknown, field: string, empty: boolean): string[] {
  const ok = Array.isArray(value) && value.every((v) => (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && /^\d{1,15}$/.test(v)));
  const ids = ok ? (value as (number | string)[]).map(Number) : [];
  if (!ok || (!empty && ids.length === 0) || ids.some((n) => n < 1 || n > 2_147_483_647)) {
    throw AppError.badInput(`${field}: must be a${empty ? 'n' : ' non-empty'} array of positive integer ids`);
  }
  if (ids.length > MAX_IDS) throw AppError.badInput(`${field}: at most ${MAX_IDS} ids per call`);
  return ids.map(String);
}

function bulkIds(value: unknown): string[] {
  if (value === undefined || value === null) throw AppError.badInput('ids: is required');
  return idArray(value, 'ids', false);
}

function bulkAction(value: unknown): BulkEmailAction {
  if (value === undefined || value === null || value === '') throw AppError.badInput('action: is required');
  const action = typeof value === 'string' && Object.hasOwn(ACTIONS, value) ? ACTIONS[value] : undefined;
  if (!action) throw AppError.badInput(`action: unknown action "${String(value)}" (one of ${Object.keys(ACTIONS).join(', ')})`);
  return action;
}

export const emailWriteRoutes = [
  route({
    method: 'PATCH',
    path: '/api/emails/:id',
    operation: UpdateEmailDocument,
    variables: (req) => {
      const b = params(req, ['is_read', 'is_starred', 'is_archived', 'categories']);
      const categories = Object.hasOwn(body(req.body), 'categories') ? b.categories : queryList(b.categories);
      return {
        id: req.params.id!,
        input: {
          isRead: bool(b.is_read, 'is_read'),
          isStarred: bool(b.is_starred, 'is_starred'),
          isArchived: bool(b.is_archived, 'is_archived'),
          categoryIds: categories === undefined || categories === null ? undefined : idArray(categories, 'categories', true),
        },
      };
    },
    respond: (d) => ({ data: restEmail(d.updateEmail) }),
  }),
  route({
    method: 'POST',
    path: '/api/emails/bulk',
    operation: BulkEmailsDocument,
    variables: (req) => {
      const b = params(req, ['ids', 'action']);
      // From the query string, `?ids=1,2` or `?ids=1` are lists too (only a repeated `?ids=1&ids=2` arrived as one).
      const ids = Object.hasOwn(body(req.body), 'ids') ? b.ids : queryList(b.ids);
      return { ids: bulkIds(ids), action: bulkAction(b.action) };
    },
    respond: (d) => {
      const data = d.bulkEmails.map((r) => ({ id: restId(r.id), success: r.success, error: r.error ?? null }));
      const succeeded = data.filter((r) => r.success).length;
      return { data, meta: { total: data.length, succeeded, failed: data.length - succeeded } };
    },
  }),
  route({
    method: 'DELETE',
    path: '/api/emails/:id',
    operation: DeleteEmailDocument,
    variables: (req) => ({ id: req.params.id! }),
    respond: () => ({ message: 'Email deleted' }),
  }),
];
