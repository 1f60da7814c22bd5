export { Email, Attachment, FolderState, type EmailAddress } from './email.entity.js';
export type { IngestHook, IngestMessage, IngestAttachment, IngestAddress, StoredEmail, BatchResult } from './ingest.types.js';
export { IngestService, type BatchInput, type MessageIdentity } from './ingest.service.js';
export { MailboxStateService, type FolderCursor, type FlagChange } from './mailbox-state.service.js';
export { EmailStatsService } from './email-stats.service.js';
