/** Seed 000 "Mail Accounts": every documented path. */
import {
  AccountFoldersDocument,
  AccountStatsDocument,
  CreateAccountDocument,
  DeleteAccountDocument,
  GetAccountDocument,
  ListAccountsDocument,
  TestAccountConnectionDocument,
  UpdateAccountDocument,
  SyncAccountDocument,
  type CreateAccountInput,
  type UpdateAccountInput,
} from '../../graphql/generated/operations.js';
import { body, bool, date, onlyKnown, params, serviceInt, stringArray, text } from '../coerce.js';
import { restAccount, restAccountStats } from '../presenters.js';
import { route, type RestRequest } from '../route.js';

const ACCOUNT_FIELDS = ['name', 'email', 'host', 'port', 'username', 'password', 'encryption', 'is_active', 'sync_folders', 'delete_mode', 'test_connection'] as const;

function accountInput(req: RestRequest): UpdateAccountInput {
  const b = body(req.body);
  onlyKnown(b, ACCOUNT_FIELDS);
  return {
    name: text(b.name, 'name'),
    email: text(b.email, 'email'),
    host: text(b.host, 'host'),
    port: serviceInt(b.port, 'port'),
    username: text(b.username, 'username'),
    password: text(b.password, 'password'),
    encryption: text(b.encryption, 'encryption') as UpdateAccountInput['encryption'],
    isActive: bool(b.is_active, 'is_active'),
    syncFolders: stringArray(b.sync_folders, 'sync_folders'),
    deleteMode: text(b.delete_mode, 'delete_mode') as UpdateAccountInput['deleteMode'],
    testConnection: bool(b.test_connection, 'test_connection'),
  };
}

const id = (req: RestRequest) => req.params.id!;

export const accountRoutes = [
  route({
    method: 'GET',
    path: '/api/accounts',
    operation: ListAccountsDocument,
    variables: (req) => ({ includeStats: bool(req.query.include_stats, 'include_stats') ?? false }),
    respond: (d) => ({ data: d.accounts.map(restAccount) }),
  }),
  route({
    method: 'POST',
    path: '/api/accounts',
    operation: CreateAccountDocument,
    status: 201,
    variables: (req) => ({ input: accountInput(req) as CreateAccountInput }),
    respond: (d) => ({ data: restAccount(d.createAccount) }),
  }),
  route({
    method: 'GET',
    path: '/api/accounts/:id',
    operation: GetAccountDocument,
    variables: (req) => ({ id: id(req) }),
    respond: (d) => ({ data: restAccount(d.account) }),
  }),
  route({
    method: 'PUT',
    path: '/api/accounts/:id',
    operation: UpdateAccountDocument,
    variables: (req) => ({ id: id(req), input: accountInput(req) }),
    respond: (d) => ({ data: restAccount(d.updateAccount) }),
  }),
  route({
    method: 'DELETE',
    path: '/api/accounts/:id',
    operation: DeleteAccountDocument,
    // Unknown body fields are refused as on every write (`{"delete_email": 1}`, a typo, deleted the account and kept
    // its mail, with a 200); the query string works too, the body winning.
    variables: (req) => ({ id: id(req), deleteEmails: bool(params(req, ['delete_emails']).delete_emails, 'delete_emails') ?? false }),
    respond: () => ({ message: 'Account deleted' }),
  }),
  route({
    method: 'POST',
    path: '/api/accounts/:id/test',
    operation: TestAccountConnectionDocument,
    variables: (req) => ({ id: id(req) }),
    respond: (d) => ({ data: d.testAccountConnection }),
  }),
  route({
    method: 'GET',
    path: '/api/accounts/:id/folders',
    operation: AccountFoldersDocument,
    variables: (req) => ({ id: id(req) }),
    respond: (d) => ({ data: d.accountFolders }),
  }),
  route({
    method: 'POST',
    path: '/api/accounts/:id/sync',
    operation: SyncAccountDocument,
    variables: (req) => {
      const b = params(req, ['folder', 'full_resync', 'since_date']);
      return {
        id: id(req),
        input: { folder: text(b.folder, 'folder'), fullResync: bool(b.full_resync, 'full_resync'), sinceDate: date(b.since_date, 'since_date') },
      };
    },
    respond: (d) => ({
      data: { new: d.syncAccount.new, updated: d.syncAccount.updated, deleted: d.syncAccount.deleted, failed: d.syncAccount.failed, duration_ms: d.syncAccount.durationMs },
    }),
  }),
  route({
    method: 'GET',
    path: '/api/accounts/:id/stats',
    operation: AccountStatsDocument,
    variables: (req) => ({ id: id(req) }),
    respond: (d) => ({ data: restAccountStats(d.account.stats) }),
  }),
];
