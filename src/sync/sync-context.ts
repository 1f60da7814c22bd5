/** What a folder sync needs, injected by the runner. */
import type { TableStats } from '../db/table-stats.js';
import type { IngestService, MailboxStateService } from '../modules/emails/index.js';
import type { Logger } from '../shared/logger.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { ByteBudget } from './byte-budget.js';
import type { FetchFailures } from './fetch-failures.js';
import type { ParserPool } from './ingest/parser-pool.js';

export interface SyncDeps {
  ingest: IngestService;
  state: MailboxStateService;
  parser: ParserPool;
  blobs: BlobStore;
  log: Logger;
  maxMessageBytes: number;
  /** Message-source bytes all folder syncs of this process may hold at once (SYNC_INFLIGHT_MB). */
  budget: ByteBudget;
  /** Messages the IMAP server failed to return: fetched alone, then skipped (fetch-failures.ts). */
  fetchFailures: FetchFailures;
  /** Told how many emails each chunk stored: refreshes the planner's statistics through bulk syncs. */
  emailStats: TableStats;
  /** Aborted when the server shuts down: a pass stops at its next chunk (what it stored stays, the cursor with it). */
  shutdown?: AbortSignal;
}

export interface FolderCounts {
  new: number;
  updated: number;
  deleted: number;
  failed: number;
}

export interface ProgressReport {
  folder: string;
  done: number;
  total: number;
}

export const emptyCounts = (): FolderCounts => ({ new: 0, updated: 0, deleted: 0, failed: 0 });

export function addCounts(a: FolderCounts, b: FolderCounts): FolderCounts {
  return { new: a.new + b.new, updated: a.updated + b.updated, deleted: a.deleted + b.deleted, failed: a.failed + b.failed };
}
