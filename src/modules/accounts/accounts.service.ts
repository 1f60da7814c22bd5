/** Mail accounts: CRUD with sealed passwords, connection tests and folder listing against the IMAP server. */
import { UniqueConstraintViolationException, type EntityManager, type MikroORM } from '@mikro-orm/postgresql';
import { deleteRowOrNotFound, lockRowOrNotFound, type RowKind } from '../../db/rows.js';
import { exec } from '../../db/sql.js';
import { AppError } from '../../shared/errors.js';
import { open, seal } from '../../shared/crypto.js';
import type { Logger } from '../../shared/logger.js';
import { parseInput } from '../../shared/validation.js';
import type { Principal } from '../auth/index.js';
import { Account } from './account.entity.js';
import {
  CreateAccountSchema,
  UpdateAccountSchema,
  type CreateAccountInput,
  type UpdateAccountInput,
} from './accounts.validation.js';
import { ImapConnectError, listFolders, withImap, type FolderInfo, type ImapSettings, type ImapTimeouts } from './imap-client.js';
import type { ImapErrorKind } from './imap-errors.js';

export interface ConnectionTestResult {
  connected: boolean;
  folders: string[];
  message: string;
}

export interface AccountStats {
  totalEmails: number;
  unreadEmails: number;
  withAttachments: number;
  byFolder: { folder: string; count: number }[];
  latestEmailAt: Date | null;
  oldestEmailAt: Date | null;
}

/** Source of per-account email statistics; the emails module provides the real one once mail is synced. */
export interface AccountStatsSource {
  statsFor(accountIds: number[]): Promise<Map<number, AccountStats>>;
}

export const EMPTY_STATS: AccountStats = Object.freeze({
  totalEmails: 0,
  unreadEmails: 0,
  withAttachments: 0,
  byFolder: [],
  latestEmailAt: null,
  oldestEmailAt: null,
});

export interface AccountsServiceDeps {
  orm: MikroORM;
  secretKey: Buffer;
  imapTimeouts: ImapTimeouts;
  log: Logger;
  stats?: AccountStatsSource;
}

const aad = (id: number) => `accounts:${id}:password`;
const ACCOUNT_ROW: RowKind = { table: 'accounts', what: 'Account' };

const DUPLICATE = 'An account with this email, host and username already exists';

type MailboxIdentity = Pick<Account, 'email' | 'host' | 'username'>;

/**
 * One account per mailbox: what the unique index accounts_mailbox_identity compares (see its migration), email and
 * host without case, the host without its trailing dot. The index leaves out the accounts that already clashed when it
 * came; this check sees them too, so a new duplicate of such an account is refused even once its older twin is gone.
 */
const SAME_MAILBOX = `lower(email) = lower(?) AND rtrim(lower(host), '.') = rtrim(lower(?), '.') AND username = ?`;
/** A host as the identity compares it: without case and trailing dot. */
const hostKey = (host: string) => host.toLowerCase().replace(/\.$/, '');
const identityKey = (a: MailboxIdentity) => [a.email.toLowerCase(), hostKey(a.host), a.username].join('\0');

/** Whether the principal may see the account (null scope = every account). */
export function canSeeAccount(principal: Principal, accountId: number): boolean {
  return principal.accountIds === null || principal.accountIds.includes(accountId);
}

export type AccountDeleteHook = (em: EntityManager, accountId: number, opts: { deleteEmails: boolean }) => Promise<void>;
export type AccountMailboxHook = (em: EntityManager, accountId: number) => Promise<void>;

/** Where the account logs in: a change may point it at another mailbox (the email is only a label). */
const loginKey = (a: Pick<Account, 'host' | 'port' | 'username'>) => [hostKey(a.host), a.port, a.username].join('\0');

export class AccountsService {
  private readonly deleteHooks: AccountDeleteHook[] = [];
  private readonly mailboxHooks: AccountMailboxHook[] = [];

  constructor(private readonly deps: AccountsServiceDeps) {}

  private get em() {
    return this.deps.orm.em;
  }

  /** Accounts visible to the principal, oldest first. */
  async list(principal: Principal): Promise<Account[]> {
    const scope = principal.accountIds === null ? {} : { id: { $in: [...principal.accountIds] } };
    return this.em.find(Account, scope, { orderBy: { id: 'asc' } });
  }

  /** One account, or NOT_FOUND (also when outside the principal's scope: no existence leak). */
  async get(principal: Principal, id: number): Promise<Account> {
    const account = canSeeAccount(principal, id) ? await this.em.findOne(Account, { id }) : null;
    if (!account) throw AppError.notFound('Account', id);
    return account;
  }

  async create(principal: Principal, raw: CreateAccountInput): Promise<Account> {
    if (principal.accountIds !== null) throw AppError.forbidden('This API key is limited to specific accounts and cannot create new ones');
    const input = parseInput(CreateAccountSchema, raw);
    if (input.testConnection) await this.requireConnection(input);
    return this.em.transactional(async (em) => {
      const { testConnection: _t, password, ...fields } = input;
      await this.refuseDuplicate(em, fields);
      const account = em.create(Account, { ...fields, passwordSealed: 'pending', connected: false });
      await this.flushOrConflict();
      account.passwordSealed = seal(this.deps.secretKey, password, aad(account.id));
      await em.flush();
      return account;
    });
  }

  /** Updates the given fields; the password changes only when one is given. */
  async update(principal: Principal, id: number, raw: UpdateAccountInput): Promise<Account> {
    const input = parseInput(UpdateAccountSchema, raw);
    const account = await this.get(principal, id);
    const { testConnection, password, ...fields } = input;
    // The stored password is decrypted only for a test: one that cannot be (another INCOMING_SECRET_KEY) must not
    // stop the account from being renamed, deactivated or given a new password.
    if (testConnection) {
      await this.requireConnection({
        host: fields.host ?? account.host,
        port: fields.port ?? account.port,
        username: fields.username ?? account.username,
        encryption: fields.encryption ?? account.encryption,
        password: password ?? this.password(account),
      });
    }
    const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    return this.em.transactional(async (em) => {
      // Locked and read again first: an update racing the account's deletion is a 404 (db/rows.ts), where its UPDATE
      // of no row answered 200 with the changes it never saved; and it applies to what a concurrent update left.
      await lockRowOrNotFound(em, ACCOUNT_ROW, account.id);
      const current = await em.refreshOrFail(account);
      const [identity, login] = [identityKey(current), loginKey(current)];
      em.assign(current, defined);
      // Checked when it changes only: an account left out of the index may still be renamed or deactivated.
      if (identityKey(current) !== identity) await this.refuseDuplicate(em, current, current.id);
      if (loginKey(current) !== login) for (const hook of this.mailboxHooks) await hook(em, current.id);
      if (password !== undefined) current.passwordSealed = seal(this.deps.secretKey, password, aad(current.id));
      // New settings or credentials: the last error no longer describes them, and a paused sync may try again.
      if (password !== undefined || fields.host || fields.port || fields.username || fields.encryption) current.lastError = null;
      current.syncPausedAt = null;
      await this.flushOrConflict();
      return current;
    });
  }

  /**
   * Deletes the account. `deleteEmails` is passed to the hooks other modules registered (`onBeforeDelete`: the emails
   * module removes the mail, or leaves it detached); leases, folder states, write-backs and webhooks of the account
   * go with it through their foreign keys.
   */
  async delete(principal: Principal, id: number, opts: { deleteEmails: boolean }): Promise<void> {
    const account = await this.get(principal, id);
    await this.em.transactional(async (em) => {
      // Locked first: a sync pass storing mail for this account now waits (its foreign key check needs the row), and
      // fails once it is gone, instead of committing mail between the hooks and the delete. A concurrent delete that
      // got the lock first makes this one a 404 (db/rows.ts): its hooks must not run, nor report the other's outcome.
      await lockRowOrNotFound(em, ACCOUNT_ROW, account.id);
      for (const hook of this.deleteHooks) await hook(em, account.id, opts);
      await deleteRowOrNotFound(em, ACCOUNT_ROW, account.id);
    });
  }

  /** Lets other modules (emails) act in the same transaction before an account row is deleted. */
  onBeforeDelete(hook: AccountDeleteHook): void {
    this.deleteHooks.push(hook);
  }

  /** Lets other modules (emails) act in the update's transaction when the account's host, port or username changes. */
  onMailboxChange(hook: AccountMailboxHook): void {
    this.mailboxHooks.push(hook);
  }

  /** Logs in and lists folders; a failure is a result (`connected: false` with the reason), not an error. */
  async testConnection(principal: Principal, id: number): Promise<ConnectionTestResult> {
    const account = await this.get(principal, id);
    const { kind, ...result } = await this.probe(this.settings(account));
    // Status only: a raw update keeps updated_at (a config change would restart the account's sync session). A login
    // refused for now (the user's sessions at the server's limit, typically because the account's own sync session
    // holds the slot) says nothing about the account: its status stays as its session reported it.
    if (kind !== 'unavailable') await this.recordSyncStatus(account.id, { connected: result.connected, ...(result.connected ? {} : { error: result.message }) });
    return result;
  }

  /** Folders with message/unseen counts from IMAP STATUS. A connection failure is a 502 with the reason. */
  async folders(principal: Principal, id: number): Promise<FolderInfo[]> {
    const account = await this.get(principal, id);
    try {
      return await withImap(this.settings(account), this.deps.imapTimeouts, listFolders);
    } catch (err) {
      if (err instanceof ImapConnectError) throw new AppError('UPSTREAM_ERROR', err.message);
      throw err;
    }
  }

  /** Email statistics for accounts (zeros until mail is synced). */
  async stats(accountIds: number[]): Promise<Map<number, AccountStats>> {
    const found = (await this.deps.stats?.statsFor(accountIds)) ?? new Map<number, AccountStats>();
    return new Map(accountIds.map((id) => [id, found.get(id) ?? EMPTY_STATS]));
  }

  /** An account by id without a principal (sync engine, CLI); null when missing. */
  async findById(id: number): Promise<Account | null> {
    return this.deps.orm.em.fork().findOne(Account, { id });
  }

  /** Accounts by id without a principal (DataLoader source: reached only through an email the caller may see). */
  async byIds(ids: readonly number[]): Promise<Map<number, Account>> {
    const rows = await this.deps.orm.em.find(Account, { id: { $in: [...ids] } });
    return new Map(rows.map((a) => [a.id, a]));
  }

  /** Accounts the sync engine should run: active and not paused on bad credentials. */
  async listSyncable(): Promise<Account[]> {
    return this.deps.orm.em.fork().find(Account, { isActive: true, syncPausedAt: null }, { orderBy: { id: 'asc' } });
  }

  /**
   * Records the outcome of a connection or sync attempt. `pause` parks the account (bad credentials) until it is
   * updated, so the supervisor does not reconnect in a storm.
   */
  async recordSyncStatus(id: number, status: { connected: boolean; error?: string | null; synced?: boolean; pause?: boolean }): Promise<void> {
    const set: string[] = ['connected = ?', 'updated_at = updated_at'];
    const params: unknown[] = [status.connected];
    if (status.error !== undefined) {
      set.push('last_error = ?');
      params.push(status.error);
    }
    if (status.synced) set.push('last_sync_at = now()');
    if (status.pause) set.push('sync_paused_at = now()');
    await this.deps.orm.em.fork().getConnection().execute(`UPDATE accounts SET ${set.join(', ')} WHERE id = ?`, [...params, id]);
  }

  /** Decrypted IMAP settings, for the sync engine. */
  settings(account: Account): ImapSettings {
    return { host: account.host, port: account.port, username: account.username, encryption: account.encryption, password: this.password(account) };
  }

  private password(account: Account): string {
    try {
      return open(this.deps.secretKey, account.passwordSealed, aad(account.id));
    } catch (err) {
      throw new AppError(
        'INTERNAL_SERVER_ERROR',
        `Cannot decrypt the stored password of account ${account.id}: INCOMING_SECRET_KEY (or DATA_DIR/secret.key) differs from the key it was stored with; set the same key on every instance or update the password`,
        undefined,
        { cause: err },
      );
    }
  }

  private async probe(settings: ImapSettings): Promise<ConnectionTestResult & { kind?: ImapErrorKind }> {
    try {
      const folders = await withImap(settings, this.deps.imapTimeouts, listFolders);
      return { connected: true, folders: folders.map((f) => f.path), message: 'Connection successful' };
    } catch (err) {
      if (!(err instanceof ImapConnectError)) throw err;
      this.deps.log.info({ host: settings.host, port: settings.port, kind: err.classified.kind }, 'IMAP connection test failed');
      return { connected: false, folders: [], message: err.message, kind: err.classified.kind };
    }
  }

  private async requireConnection(settings: ImapSettings): Promise<void> {
    const r = await this.probe(settings);
    if (!r.connected) throw new AppError('UNPROCESSABLE', `Connection test failed: ${r.message}`);
  }

  /** 409 when another account has this mailbox identity (the index catches the concurrent ones at the flush). */
  private async refuseDuplicate(em: EntityManager, a: MailboxIdentity, exceptId = 0): Promise<void> {
    const rows = await exec(em, `SELECT 1 FROM accounts WHERE ${SAME_MAILBOX} AND id <> ? LIMIT 1`, [a.email, a.host, a.username, exceptId]);
    if (rows.length > 0) throw AppError.conflict(DUPLICATE);
  }

  private async flushOrConflict(): Promise<void> {
    try {
      await this.em.flush();
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw AppError.conflict(DUPLICATE);
      throw err;
    }
  }
}
