/**
 * Runs a sync pass for an account: joins a pass already running in this process, serialises with passes on other
 * instances through an advisory lock, uses the account worker's session when there is one (else a short-lived
 * connection), reports progress, and records the outcome as account status plus a `sync.completed` / `sync.failed`
 * event.
 */
import { randomUUID } from 'node:crypto';
import type { ImapFlow } from 'imapflow';
import type { MikroORM } from '@mikro-orm/postgresql';
import { appendEvents, type EventPayloads, type NewEvent } from '../events/index.js';
import type { PgPubSub } from '../events/pubsub.js';
import { AdvisoryLocks, LockNamespace } from '../db/locks.js';
import { databaseUnavailableError, isDatabaseUnavailable } from '../db/unavailable.js';
import { diskFullMessage, sqlStateOf } from '../db/sql-errors.js';
import { isStorageFailure } from '../storage/blob-store.js';
import { AppError, ErrorCode } from '../shared/errors.js';
import { classifyImapError, connectImap, isMailboxMissing, isSelectRefused, type AccountsService, type ImapTimeouts } from '../modules/accounts/index.js';
import { syncFolder } from './folder-sync.js';
import { addCounts, emptyCounts, type FolderCounts, type ProgressReport, type SyncDeps } from './sync-context.js';

export const SYNC_PROGRESS_CHANNEL = 'incoming_sync_progress';

/** A sync folder's `last_error` while the server does not have it (the account's lists it too). */
export const FOLDER_MISSING_ERROR = 'The folder does not exist on the IMAP server';

export interface SyncRequest {
  folder?: string;
  full?: boolean;
  since?: Date;
}

export interface SyncResult extends FolderCounts {
  durationMs: number;
  folders: string[];
  /**
   * Sync folders skipped, the others synced: those the server does not have (deleted, renamed) and those it refuses
   * to open (\Noselect).
   */
  missing: string[];
}

/**
 * The account worker's logged-in connection, and the signal of the worker's stop (the account changed, went inactive
 * or was deleted, or the lease moved): a pass on it that ends because the worker closed it did not fail.
 */
export interface WorkerSession {
  client: ImapFlow;
  stopped: AbortSignal;
}

/** How many restarted sessions a sync request outlasts before it answers 503 (an account updated again and again). */
const MAX_SESSION_RESTARTS = 3;

/** A pass whose worker session was stopped under it: nothing is recorded, and a request that joined it runs again. */
class SessionStopped extends AppError {
  constructor() {
    super(ErrorCode.SERVICE_UNAVAILABLE, "The account's IMAP session was restarted during the sync; sync again");
  }
}

export interface SyncProgressMessage extends ProgressReport {
  accountId: number;
  runId: string;
}

export interface RunnerDeps {
  orm: MikroORM;
  accounts: AccountsService;
  sync: SyncDeps;
  locks: AdvisoryLocks;
  pubsub: PgPubSub;
  imapTimeouts: ImapTimeouts;
}

/**
 * What a failed pass (or the account session's own statements) reports (REST status, account error, log kind): the
 * IMAP server, DATA_DIR or the database at fault.
 */
export function failureOf(err: unknown, target?: { host: string; port: number }): { message: string; code: ErrorCode; kind: string } {
  if (err instanceof AppError) return { message: err.message, code: err.code, kind: 'request' };
  if (isStorageFailure(err)) return { message: `Local storage failed (DATA_DIR): ${(err as Error).message}`, code: ErrorCode.SERVICE_UNAVAILABLE, kind: 'storage' };
  const full = diskFullMessage(err);
  if (full !== undefined) return { message: `The database is out of disk space: ${full}`, code: ErrorCode.SERVICE_UNAVAILABLE, kind: 'storage' };
  // PostgreSQL refused a statement: our fault, not the mail server's. Its text names tables and constraints: the log has it.
  if (sqlStateOf(err)) return { message: 'The database refused to store the synced mail (the server log has the details)', code: ErrorCode.INTERNAL_SERVER_ERROR, kind: 'database' };
  const c = classifyImapError(err, target);
  return { message: c.message, code: ErrorCode.UPSTREAM_ERROR, kind: c.kind };
}

/**
 * The pass's view of the sync deps: on a worker's session, its stop interrupts the pass like the server's shutdown
 * (at its next chunk, and while it waits for the byte budget). Stopping a worker waited for the budget, which a hung
 * FETCH elsewhere can hold for IMAP_COMMAND_TIMEOUT_MS, and the supervisor's tick (every lease renewal) with it.
 */
function interruptible(sync: SyncDeps, session: WorkerSession | undefined): SyncDeps {
  if (!session) return sync;
  return { ...sync, shutdown: sync.shutdown ? AbortSignal.any([sync.shutdown, session.stopped]) : session.stopped };
}

/** Whether a pass run for `running` does all that `wanted` asks, so that `wanted` may join it. */
function covers(running: SyncRequest, wanted: SyncRequest): boolean {
  const folders = running.folder === undefined || running.folder === wanted.folder;
  const full = !wanted.full || running.full === true;
  const since = running.since === undefined || (wanted.since !== undefined && wanted.since >= running.since);
  return folders && full && since;
}

export class SyncRunner {
  private readonly running = new Map<number, { req: SyncRequest; result: Promise<SyncResult> }>();

  constructor(private readonly deps: RunnerDeps) {}

  /**
   * Runs a sync pass, or joins the running one when it does all this one asks (another folder, a full resync or an
   * earlier `since_date` wait for it, then run). `session` is the account worker's, if any (see request() for what
   * a request does when the pass it joined ends because that session was stopped).
   */
  run(accountId: number, req: SyncRequest = {}, session?: WorkerSession): Promise<SyncResult> {
    const existing = this.running.get(accountId);
    if (existing) {
      if (covers(existing.req, req)) return existing.result;
      return existing.result.catch(() => undefined).then(() => this.run(accountId, req, session));
    }
    // Its entry goes before anything waiting on it runs (reactions run in order), so a waiter finds the slot free.
    const result = this.deps.locks
      .withLock(LockNamespace.accountSync, accountId, () => this.pass(accountId, req, session))
      .finally(() => this.running.delete(accountId));
    this.running.set(accountId, { req, result });
    return result;
  }

  /**
   * For sync requests (POST /api/accounts/{id}/sync, `syncAccount`): run() on the session `sessionOf` gives (the account
   * worker's, when this instance runs it: no second login). When that session is stopped under the pass (an account
   * update restarts it), the request runs again on the session, or connection, there is then: it still gets its pass.
   */
  async request(accountId: number, req: SyncRequest, sessionOf: () => WorkerSession | undefined): Promise<SyncResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.run(accountId, req, sessionOf());
      } catch (err) {
        if (!(err instanceof SessionStopped) || attempt >= MAX_SESSION_RESTARTS) throw err;
      }
    }
  }

  /**
   * For change notifications: a pass that starts after the notification. Waits for a running pass (which may have
   * started before the change) and then runs or joins one that started later.
   */
  async runFresh(accountId: number, req: SyncRequest, session?: WorkerSession): Promise<SyncResult> {
    await this.running.get(accountId)?.result.catch(() => undefined);
    return this.run(accountId, req, session);
  }

  private async pass(accountId: number, req: SyncRequest, session?: WorkerSession): Promise<SyncResult> {
    const { accounts, sync } = this.deps;
    sync.shutdown?.throwIfAborted();
    if (session?.stopped.aborted) throw new SessionStopped();
    const account = await accounts.findById(accountId);
    if (!account) throw AppError.notFound('Account', accountId);
    const folders = req.folder ? [req.folder] : account.syncFolders;
    const runId = randomUUID();
    const started = Date.now();
    let totals = emptyCounts();
    let client = session?.client;
    let current: string | null = null;
    try {
      client ??= await connectImap(accounts.settings(account), this.deps.imapTimeouts);
      const gone: string[] = [];
      /** Folders the server refused to open, each with its reason. */
      const refused: string[] = [];
      const missing: string[] = [];
      for (const folder of folders) {
        sync.shutdown?.throwIfAborted();
        current = folder;
        const onProgress = (p: ProgressReport) => void this.progress({ ...p, accountId, runId });
        try {
          totals = addCounts(totals, await syncFolder(client, interruptible(sync, session), accountId, folder, { full: req.full, since: req.since, onProgress }));
        } catch (err) {
          // One folder gone from the server, or one it refuses to open, must not stop the others (nor, through the
          // session, IDLE). Its stored mail is kept: the folder may come back, or be dropped from sync_folders.
          if (isMailboxMissing(err)) {
            if (req.folder) throw new AppError(ErrorCode.NOT_FOUND, `Folder "${folder}" does not exist on the IMAP server`);
            gone.push(folder);
            sync.log.warn({ accountId, folder }, 'sync folder does not exist on the IMAP server; skipped');
            await sync.state.finishFolder(accountId, folder, { error: FOLDER_MISSING_ERROR });
          } else if (isSelectRefused(err)) {
            const reason = (err as { responseText?: string }).responseText ?? 'no reason given';
            if (req.folder) throw new AppError(ErrorCode.NOT_FOUND, `The IMAP server refused to open the folder "${folder}": ${reason}`);
            refused.push(`${folder} (${reason})`);
            sync.log.warn({ accountId, folder, reason }, 'the IMAP server refused to open a sync folder; skipped');
            await sync.state.finishFolder(accountId, folder, { error: `The IMAP server refused to open the folder: ${reason}` });
          } else throw err;
          missing.push(folder);
        }
      }
      const result: SyncResult = { ...totals, durationMs: Date.now() - started, folders, missing };
      // Only a pass over every folder knows which are missing; a one-folder pass leaves the account's error as is.
      const problems = [
        ...(gone.length > 0 ? [`Sync folders missing on the IMAP server: ${gone.join(', ')}`] : []),
        ...(refused.length > 0 ? [`Sync folders the IMAP server refused to open: ${refused.join(', ')}`] : []),
      ];
      const error = req.folder ? undefined : problems.length > 0 ? problems.join('; ') : null;
      await accounts.recordSyncStatus(accountId, { connected: true, error, synced: true });
      await this.event('sync.completed', accountId, runId, { accountId, runId, ...totals, durationMs: result.durationMs, folders });
      sync.log.info({ accountId, ...result }, 'sync pass completed');
      return result;
    } catch (err) {
      // Interrupted by the server's shutdown: nothing went wrong with the account, and the next start resumes.
      if (sync.shutdown?.aborted) throw sync.shutdown.reason;
      // Its session was closed by the worker's stop, not by the IMAP server: neither the account nor the folder failed.
      if (session?.stopped.aborted) throw new SessionStopped();
      // Nothing can be recorded without the database: say so (503) rather than blame the IMAP server.
      if (isDatabaseUnavailable(err)) throw databaseUnavailableError(err);
      // Deleted while it synced (its rows then fail their foreign keys): there is nothing left to report on.
      if (sqlStateOf(err) && !(await accounts.findById(accountId))) throw AppError.notFound('Account', accountId);
      const f = failureOf(err, account);
      sync.log.warn({ accountId, folder: current, err, kind: f.kind }, 'sync pass failed');
      // A requested folder that does not exist says nothing about the account's connection.
      const badRequest = err instanceof AppError && err.code === ErrorCode.NOT_FOUND;
      if (!badRequest) await accounts.recordSyncStatus(accountId, { connected: f.kind === 'database', error: f.message, pause: f.kind === 'auth' });
      if (current) await sync.state.finishFolder(accountId, current, { error: f.message }).catch(() => undefined);
      await this.event('sync.failed', accountId, runId, { accountId, runId, error: f.message, folder: current });
      if (err instanceof AppError) throw err;
      throw new AppError(f.code, `Sync failed: ${f.message}`, undefined, { cause: err });
    } finally {
      if (client && client !== session?.client) await client.logout().catch(() => client?.close());
    }
  }

  private async progress(p: SyncProgressMessage): Promise<void> {
    await this.deps.pubsub.publish(SYNC_PROGRESS_CHANNEL, p).catch(() => undefined);
  }

  private async event<T extends 'sync.completed' | 'sync.failed'>(type: T, accountId: number, runId: string, payload: EventPayloads[T]): Promise<void> {
    const event: NewEvent<T> = { type, accountId, identity: runId, payload };
    await this.deps.orm.em.fork().transactional((tx) => appendEvents(tx, [event]));
  }
}
