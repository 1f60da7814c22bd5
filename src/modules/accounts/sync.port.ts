/**
 * The accounts module's view of the sync engine (implemented in src/sync, injected at start-up): modules never
 * import the engine by path.
 */
export interface SyncRequestInput {
  folder?: string;
  full?: boolean;
  since?: Date;
}

export interface SyncOutcome {
  new: number;
  updated: number;
  deleted: number;
  failed: number;
  durationMs: number;
}

export interface SyncProgress {
  accountId: number;
  runId: string;
  folder: string;
  done: number;
  total: number;
}

export interface SyncTrigger {
  /** Runs a sync pass now (joining one already running) and resolves with its counts. */
  sync(accountId: number, req: SyncRequestInput): Promise<SyncOutcome>;
  /** Live progress of passes of an account, on any instance. */
  progress(accountId: number): AsyncIterableIterator<SyncProgress>;
}

/** Per-folder sync progress as stored by the emails module (read side of the sync engine). */
export interface FolderSyncState {
  folder: string;
  uidValidity: number | null;
  uidNext: number;
  messages: number;
  lastSyncAt: Date | null;
  lastError: string | null;
}

export interface FolderStateSource {
  cursors(accountId: number): Promise<FolderSyncState[]>;
}
