/** Joins IMAP metadata with the parsed content into what the emails module stores. */
import type { IngestMessage } from '../../modules/emails/index.js';
import type { ParsedMessage } from './parse-message.js';

export interface ImapMeta {
  uid: number;
  flags: string[];
  modseq: string | null;
  internalDate: Date | null;
  size: number;
}

/** `raw` is the source that was parsed: kept for `raw_sources` when the parser left it inline. */
export function toIngestMessage(meta: ImapMeta, p: ParsedMessage, raw: Buffer): IngestMessage {
  return {
    uid: meta.uid,
    flags: meta.flags,
    modseq: meta.modseq,
    internalDate: meta.internalDate,
    size: meta.size || p.size,
    messageId: p.messageId,
    headerHash: p.headerHash,
    subject: p.subject,
    from: p.from,
    to: p.to,
    cc: p.cc,
    replyTo: p.replyTo,
    date: p.date,
    inReplyTo: p.inReplyTo,
    references: p.references,
    headers: p.headers,
    bodyText: p.bodyText,
    bodyHtml: p.bodyHtml,
    attachments: p.attachments,
    rawBlobKey: p.rawBlobKey,
    rawSource: p.rawInline ? raw : null,
    parseError: p.parseError,
  };
}
