export { Account, ENCRYPTIONS, type Encryption } from './account.entity.js';
export {
  AccountsService,
  canSeeAccount,
  EMPTY_STATS,
  type AccountStats,
  type AccountStatsSource,
  type AccountDeleteHook,
  type ConnectionTestResult,
} from './accounts.service.js';
export { createAccountLoaders, type AccountLoaders } from './accounts.loaders.js';
export { classifyImapError, isMailboxMissing, isSelectRefused, type ClassifiedImapError, type ImapErrorKind } from './imap-errors.js';
export { connectImap, withImap, imapOptions, listFolders, ImapConnectError, type ImapSettings, type ImapTimeouts, type FolderInfo } from './imap-client.js';
export { AccountsResolver } from './accounts.resolver.js';
export type { SyncTrigger, SyncOutcome, SyncProgress, SyncRequestInput, FolderStateSource, FolderSyncState } from './sync.port.js';
export { AccountsSyncResolver } from './accounts-sync.resolver.js';
