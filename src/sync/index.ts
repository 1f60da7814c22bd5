/**
 * The sync engine, assembled: blob store, parser worker pool, the emails module's ingest/state services, the runner
 * (on-demand and triggered passes) and — when SYNC_ENABLED — the supervisor that keeps one session per active account.
 */
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { AdvisoryLocks } from '../db/locks.js';
import { exec } from '../db/sql.js';
import { TableStats } from '../db/table-stats.js';
import { PgPubSub } from '../events/pubsub.js';
import type { AccountsService, SyncProgress, SyncTrigger } from '../modules/accounts/index.js';
import { EmailChangesService, IngestService, MailboxStateService, sweepDepartures, sweepRawSources } from '../modules/emails/index.js';
import { ThreadLinker } from '../modules/threads/index.js';
import { AppError, ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { BlobStore } from '../storage/blob-store.js';
import { ByteBudget } from './byte-budget.js';
import { FetchFailures } from './fetch-failures.js';
import { ParserPool } from './ingest/parser-pool.js';
import { SYNC_PROGRESS_CHANNEL, SyncRunner, type SyncProgressMessage } from './sync-runner.js';
import { SyncSupervisor } from './supervisor.js';
import { WriteBackDrainer } from './write-back.js';

export interface SyncEngine {
  readonly trigger: SyncTrigger;
  /**
   * First step of a shutdown: running passes stop at their next chunk and new ones are refused (503), so that
   * requests waiting on a pass end at once instead of holding the HTTP server's drain.
   */
  interrupt(): void;
  readonly runner: SyncRunner;
  readonly supervisor: SyncSupervisor | null;
  readonly blobs: BlobStore;
  close(): Promise<void>;
}

export interface SyncEngineDeps {
  orm: MikroORM;
  databaseUrl: string;
  config: Config;
  log: Logger;
  accounts: AccountsService;
}

/**
 * Periodic clean-up: blob files no email or attachment references (files are written before their rows, so only old
 * ones), `raw_sources` rows no email names, and departures older than the move window.
 */
function startSweeps(orm: MikroORM, blobs: BlobStore, config: Config['sync'], log: Logger): () => void {
  const intervalMs = config.blobSweepIntervalMs;
  const referenced = async (keys: string[]) => {
    const rows = await exec<{ k: string }>(
      orm.em.fork(),
      `SELECT raw_blob AS k FROM emails WHERE raw_blob = ANY(?::text[]) UNION SELECT checksum FROM attachments WHERE checksum = ANY(?::text[])`,
      [keys, keys],
    );
    return new Set(rows.map((r) => r.k));
  };
  const sweeps: [string, () => Promise<number>][] = [
    ['orphaned blobs', () => blobs.sweep(referenced, intervalMs)],
    ['orphaned raw sources', () => sweepRawSources(orm, intervalMs)],
    ['expired departures', () => sweepDepartures(orm, config.moveWindowMs)],
  ];
  const timer = setInterval(() => {
    for (const [what, sweep] of sweeps) {
      sweep().then(
        (n) => n > 0 && log.info({ removed: n }, `${what} removed`),
        (err: unknown) => log.warn({ err }, `sweep of ${what} failed`),
      );
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Emails stored between two ANALYZEs of the table (see db/table-stats.ts). An ANALYZE that has to wait for an
 * autovacuum of the table cancels it (PostgreSQL's rule for any conflicting lock); autovacuum starts again after
 * the bulk sync.
 */
const ANALYZE_EVERY_EMAILS = 5000;

export async function createSyncEngine({ orm, databaseUrl, config, log, accounts }: SyncEngineDeps): Promise<SyncEngine> {
  const slog = log.child({ module: 'sync' });
  const blobs = new BlobStore(path.join(config.dataDir, 'blobs'));
  const moved = await blobs.migrateLayout();
  if (moved > 0) slog.info({ moved }, 'blob store moved to the one-level layout');
  const restored = await blobs.restoreSwept();
  if (restored > 0) slog.warn({ restored }, 'blobs a killed sweep had moved aside were put back');
  const parser = new ParserPool({
    size: config.sync.parserWorkers,
    blobRoot: path.join(config.dataDir, 'blobs'),
    maxBytes: config.sync.maxMessageBytes,
    inlineMaxBytes: config.sync.rawInlineMaxBytes,
  });
  const ingest = new IngestService(orm, config.sync.moveWindowMs);
  ingest.addHook(new ThreadLinker());
  const state = new MailboxStateService(orm, config.sync.moveWindowMs);
  const locks = new AdvisoryLocks(databaseUrl, slog);
  const pubsub = new PgPubSub(databaseUrl, slog);
  const shutdown = new AbortController();
  const emailStats = new TableStats(orm, 'emails', ANALYZE_EVERY_EMAILS, slog);
  const interrupt = () => shutdown.abort(new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The server is shutting down; the sync resumes when it restarts'));
  const runner = new SyncRunner({
    orm, accounts, locks, pubsub, imapTimeouts: config.imap,
    sync: { ingest, state, parser, blobs, log: slog, maxMessageBytes: config.sync.maxMessageBytes, budget: new ByteBudget(config.sync.inflightBytes), fetchFailures: new FetchFailures(), emailStats, shutdown: shutdown.signal },
  });
  const writeBack = new WriteBackDrainer({ orm, accounts, state, emailChanges: new EmailChangesService(orm), locks, log: slog, backoff: config.sync.backoff });
  const supervisor = config.sync.enabled
    ? new SyncSupervisor(
        orm,
        { accounts, state, runner, writeBack, pubsub, imapTimeouts: config.imap, log: slog, shutdown: shutdown.signal, options: { pollIntervalMs: config.sync.pollIntervalMs, flagRescanMs: config.sync.flagRescanMs, watchdogTimeoutMs: config.sync.watchdogTimeoutMs, idleRestartMs: config.sync.idleRestartMs, backoff: config.sync.backoff } },
        { tickMs: config.sync.tickMs, leaseTtlMs: config.sync.leaseTtlMs },
        slog,
      )
    : null;
  supervisor?.start();
  const stopSweep = startSweeps(orm, blobs, config.sync, slog);
  const trigger: SyncTrigger = {
    // A running pass that does all the request asks is joined (issue #3: "joined, not duplicated"). Where this instance
    // holds the account's session the pass runs on it: a second login could be refused by a server that limits the
    // user's sessions (NO [LIMIT]), and costs one more connection of the few most providers allow.
    sync: (accountId, req) => runner.request(accountId, req, () => supervisor?.session(accountId)),
    progress: (accountId) =>
      pubsub.iterate<SyncProgressMessage>(SYNC_PROGRESS_CHANNEL, (p) => p.accountId === accountId) as AsyncIterableIterator<SyncProgress>,
  };
  return {
    trigger,
    runner,
    supervisor,
    blobs,
    interrupt,
    close: async () => {
      interrupt();
      stopSweep();
      await supervisor?.stop();
      await parser.close();
      await pubsub.close();
      await locks.close();
      await emailStats.idle();
    },
  };
}
