/**
 * The name of a forwarded message attached without a file name (`message/rfc822`, `message/global`): Outlook, Gmail
 * and Apple Mail attach a forwarded or dragged-in message that way, and mail clients list it under its Subject
 * (`Quarterly figures.eml`), not as `attachment-1.eml`. Read from the stored part's own header block.
 */
import { open } from 'node:fs/promises';
import { headerBlock } from '../../shared/header-hash.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { parseHeaderFields, readFields } from './parse-headers.js';

const MESSAGE_TYPES = new Set(['message/rfc822', 'message/global']);
/** The Subject is looked for in this much of the part: a header block larger than this names nothing. */
const HEADER_READ = 64 * 1024;

/** Path separators in a Subject (`Re: Q3/Q4 plan`) would cut the name down to its last segment. */
const SEPARATORS = /[/\\]/g;

/** `Subject.eml` for a message part without a file name, or null (not a message, no Subject, unreadable). */
export async function embeddedMessageName(store: BlobStore, key: string, mimeType: string): Promise<string | null> {
  if (!MESSAGE_TYPES.has(mimeType)) return null;
  const file = await open(store.path(key), 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(HEADER_READ);
    const { bytesRead } = await file.read(buf, 0, HEADER_READ, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
  const subject = parseHeaderFields(readFields(headerBlock(head))).subject?.replace(SEPARATORS, '-').trim();
  return subject ? `${subject}.eml` : null;
}
