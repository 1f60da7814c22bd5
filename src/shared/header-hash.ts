/**
 * Content identity of a message: SHA-256 of its raw header block (the bytes before the first empty line, trailing
 * line breaks removed). Computed the same way from a full source and from an IMAP `BODY[HEADER]` fetch, so a
 * UIDVALIDITY reset can be matched without downloading bodies.
 */
import { createHash } from 'node:crypto';

function endOfHeaders(raw: Buffer): number {
  // A message that starts with an empty line has an empty header block (IMAP BODY[HEADER] is then just CRLF): without
  // this the first body lines would be hashed, and read, as headers.
  if (raw[0] === 0x0a || (raw[0] === 0x0d && raw[1] === 0x0a)) return 0;
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf === -1) return lf === -1 ? raw.length : lf;
  return lf === -1 ? crlf : Math.min(crlf, lf);
}

/** The raw header block without the separating empty line. */
export function headerBlock(raw: Buffer): Buffer {
  let end = endOfHeaders(raw);
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d)) end--;
  return raw.subarray(0, end);
}

/** sha256 hex of `headerBlock(raw)`: a full source and its BODY[HEADER] give the same digest. */
export function headerHash(raw: Buffer): string {
  return createHash('sha256').update(headerBlock(raw)).digest('hex');
}
