/** What the sync engine hands to the emails module for storing (parsed on a worker, bodies already in the blob store). */
import type { EntityManager } from '@mikro-orm/postgresql';
import type { NewEvent } from '../../events/index.js';

export interface IngestAddress {
  email: string;
  name: string;
}

export interface IngestAttachment {
  blobKey: string;
  size: number;
  filename: string;
  originalFilename: string | null;
  mimeType: string;
  isInline: boolean;
  contentId: string | null;
}

export interface IngestMessage {
  uid: number;
  flags: string[];
  modseq: string | null;
  internalDate: Date | null;
  size: number;
  messageId: string | null;
  headerHash: string;
  subject: string | null;
  from: IngestAddress | null;
  to: IngestAddress[];
  cc: IngestAddress[];
  replyTo: string | null;
  date: Date | null;
  inReplyTo: string | null;
  references: string[];
  headers: Record<string, string>;
  bodyText: string | null;
  bodyHtml: string | null;
  attachments: IngestAttachment[];
  rawBlobKey: string;
  /** The raw source itself when it is stored in PostgreSQL (`raw_sources`); absent or null: it is a blob file. */
  rawSource?: Buffer | null;
  parseError: string | null;
}

/** A message as stored, handed to enrichment hooks. */
export interface StoredEmail {
  id: number;
  accountId: number;
  folder: string;
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  subject: string | null;
  receivedAt: Date;
  message: IngestMessage;
  /** Moved here on the server: the thread the email was in before (the thread linker puts it back there). */
  previousThreadId?: number | null;
}

/**
 * Enrichment: called once per stored batch, inside its transaction, with the newly inserted emails (voicemail,
 * categories, patterns and threads plug in here). Events it returns are appended with the batch's own, after them:
 * appending takes the outbox lock, so a hook must not append by itself before the batch's later statements.
 */
export interface IngestHook {
  readonly name: string;
  afterInsert(em: EntityManager, emails: readonly StoredEmail[]): Promise<void | readonly NewEvent[]>;
}

export interface BatchResult {
  inserted: StoredEmail[];
  /** Of `inserted`: moved here on the server, stored under their old id with their local state (`email.moved`). */
  moved: number;
  /** Already stored (a repeated or resumed batch). */
  skipped: number;
}
