/**
 * Header fields of a message, read straight from its raw header block. Used for every message (see the module
 * comment of parse-message.ts for why not mailparser's `headers` event): it must cope with whatever a hostile or
 * broken message carries — lines without a colon, folding garbage, raw 8-bit bytes, megabyte headers — and never throw.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import libmime from 'libmime';
import { parseAddressHeader } from 'mailparser';
import { headerSeparator } from '../../shared/header-hash.js';
import { cutUtf8 } from '../../shared/utf8.js';
import type { ParsedAddress, ParsedMessage } from './parse-message.js';

export type HeaderFields = Pick<
  ParsedMessage,
  'messageId' | 'subject' | 'from' | 'to' | 'cc' | 'replyTo' | 'date' | 'inReplyTo' | 'references' | 'headers'
>;

export interface RawField {
  /** As spelled in the message. */
  name: string;
  /** Unfolded and charset-decoded (`decode8bit`); encoded words (RFC 2047) still encoded. */
  value: string;
  /**
   * The unfolded value's bytes as latin1 code units, kept only when they hold 8-bit bytes or an escape (ISO-2022):
   * `displayValue` reads them again in the message's charset.
   */
  raw?: string;
}

/** Only the first bytes of a header block are read: bounds the work for a message that has no body separator. */
const MAX_HEADER_READ = 2 * 1024 * 1024;
const MAX_HEADER_VALUE = 64 * 1024;
/**
 * Message-IDs and addresses: RFC 5322 lines stop at 998 characters, and these columns are indexed, where PostgreSQL's
 * btree refuses an entry over ~2,700 bytes (an error that would fail the message's whole batch). So the cap is in
 * UTF-8 bytes: a Message-ID of 990 CJK characters is 2,970. Applied alike to Message-ID, In-Reply-To and References,
 * so a truncated id still threads.
 */
const MAX_ID_BYTES = 998;
const MAX_NAME = 998;
/**
 * Addresses kept per header, in UTF-8 bytes of address + name: `to_addresses` is indexed for search, and a tsvector
 * cannot exceed 1 MB (a To: of 40,000 recipients is 1.1 MB). The recipients past it are still in `headers` and the raw
 * source.
 */
const MAX_ADDRESS_LIST_BYTES = 64 * 1024;
const MAX_REFERENCES = 200;
/** Repeated trace/signature headers are kept one per line; others are list-like and joined with ", ". */
const LINE_JOINED = new Set([
  'received', 'x-received', 'dkim-signature', 'x-google-dkim-signature', 'arc-seal', 'arc-message-signature',
  'arc-authentication-results', 'authentication-results', 'received-spf', 'return-path',
]);
/** RFC 5322 field name: printable ASCII except colon. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
const WINDOWS_1252 = new TextDecoder('windows-1252');
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

const cap = (s: string, max: number): string => (s.length > max ? s.slice(0, max) : s);

/**
 * Bytes → string for header values and bodies of unknown charset: UTF-8 when the bytes are valid UTF-8, otherwise
 * windows-1252 (a superset of latin-1 in practice) — raw 8-bit headers are almost always one of the two.
 */
export function decode8bit(buf: Buffer): string {
  if (isAscii(buf)) return buf.toString('latin1');
  return isUtf8(buf) ? buf.toString('utf8') : WINDOWS_1252.decode(buf);
}

/** Offset of the body: after the first empty line (CRLF or bare LF), or the end when there is none. */
export function bodyStart(raw: Buffer): number {
  return headerSeparator(raw)?.body ?? raw.length;
}

/** Splits a header block into unfolded fields; lines without a valid `name:` are skipped. */
export function readFields(block: Buffer): RawField[] {
  // latin1 maps bytes 1:1 to code units, so each field's exact bytes can be recovered for charset detection.
  const text = block.subarray(0, MAX_HEADER_READ).toString('latin1');
  const fields: RawField[] = [];
  for (const line of text.split(/\r?\n(?![ \t])/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trimEnd(); // obsolete syntax allows "Name :"
    if (!FIELD_NAME.test(name)) continue;
    const value = line.slice(colon + 1).replace(/\r?\n/g, '').trim();
    const field: RawField = { name, value: decode8bit(Buffer.from(value, 'latin1')) };
    if (/[\x1b\x80-\xff]/.test(value)) field.raw = value;
    fields.push(field);
  }
  return fields;
}

/**
 * A charset label that says nothing about 8-bit bytes: US-ASCII and its aliases. Mailers that label everything
 * `us-ascii` send Latin text under it, which browsers read as windows-1252 (WHATWG Encoding) and libmime as U+FFFD.
 */
export const ASCII_LABEL = /^(?:us-?ascii|ascii|ansi_x3\.4-19(?:68|86)|iso646-us|iso-ir-6|cp367|ibm367|us)$/i;

/** ISO-2022-JP's escapes into JIS X 0208 (`ESC $ @`, `ESC $ B`) or JIS X 0212: 7-bit text only that charset reads. */
const ISO_2022_JP = /\x1b\$(?:[@B]|\(D)/;

/**
 * The charset a message declares for its text — the root Content-Type's, else that of the first part header naming
 * one in the first 64 KiB of the body — when it is a legacy one (not UTF-8 or ASCII); else null.
 */
export function declaredCharset(fields: RawField[], body: Buffer): string | null {
  const ct = fields.find((f) => f.name.toLowerCase() === 'content-type');
  let charset: string | undefined;
  try {
    charset = ct ? libmime.parseHeaderValue(ct.value).params.charset : undefined;
  } catch {
    charset = undefined;
  }
  charset ??= /^content-type:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*?charset\s*=\s*"?([\w.:+-]{1,40})/im.exec(body.subarray(0, 64 * 1024).toString('latin1'))?.[1];
  return legacyCharset(charset);
}

/** A charset label when it names a legacy charset (not UTF-8 or ASCII, `ASCII_LABEL`); else null. */
export function legacyCharset(label: string | false | undefined): string | null {
  const charset = label ? label.trim() : '';
  return charset !== '' && !/^utf-?8$/i.test(charset) && !ASCII_LABEL.test(charset) ? charset : null;
}

/** Printable ASCII, and its base64 for `libmime.decodeWord`. */
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i)).join('');
const PRINTABLE_BASE64 = Buffer.from(PRINTABLE, 'latin1').toString('base64');

/** `readsAscii` by charset label: asked once per raw header field, and a hostile header can hold thousands. */
const READS_ASCII = new Map<string, boolean>();

/**
 * Whether a charset reads ASCII bytes as ASCII. A header's syntax is ASCII, so one that does not (UTF-16, UTF-32,
 * UCS-2: a message may declare one for its text) never wrote the header's raw bytes: read in it, a Subject became
 * CJK noise and From no address at all.
 */
const readsAscii = (charset: string): boolean => {
  const key = charset.toLowerCase();
  let ok = READS_ASCII.get(key);
  if (ok === undefined) {
    ok = libmime.decodeWord(charset, 'B', PRINTABLE_BASE64) === PRINTABLE;
    // Labels come from mail: bounded, so a flood of made-up ones cannot grow it.
    if (READS_ASCII.size < 256) READS_ASCII.set(key, ok);
  }
  return ok;
};

/**
 * Raw header bytes (latin1 code units) as a reader sees them. Old mailers write raw bytes of their own charset into
 * Subject, From, To or a part's file name (KOI8-R, windows-1251, Shift_JIS; ISO-2022-JP as 7-bit escapes), not
 * encoded words; mail clients read those in the charset the message declares for its text, and so does this when the
 * bytes are not UTF-8 (ISO-2022-JP by its escapes). Null when that does not apply — valid UTF-8, no charset, an
 * unknown one, UTF-7, one that does not read ASCII as ASCII (`readsAscii`), or one the bytes do not fit: the caller
 * keeps its own reading.
 */
export function decodeRawHeader(raw: string, charset: string | null): string | null {
  const bytes = Buffer.from(raw, 'latin1');
  const cs = ISO_2022_JP.test(raw) ? 'iso-2022-jp' : isUtf8(bytes) ? null : charset;
  if (cs === null || /^utf-?7/i.test(cs) || !readsAscii(cs)) return null;
  const decoded = libmime.decodeWord(cs, 'B', bytes.toString('base64'));
  return decoded.includes('\ufffd') ? null : decoded;
}

/** An encoded word (RFC 2047, with an RFC 2231 language): charset, language, encoding, text. */
const ENCODED_WORD = /=\?([^?*\s]{1,40})(\*[^?\s]{0,20})?\?([bq])\?([^?\s]{0,1000})\?=/gi;

/**
 * Encoded words labelled US-ASCII or an alias of it (`ASCII_LABEL`: mailx and s-nail write the C locale's
 * `ANSI_X3.4-1968`, which libmime does not read at all) are relabelled UTF-8 when their bytes are, else
 * windows-1252 — as the body's text under such a label is read. libmime showed the word undecoded, or read UTF-8
 * under `us-ascii` as latin1 (`GrÃ¼ÃŸe`).
 */
/** The bytes of a Q-encoded word's text (libmime's `latin1` is windows-1252, so it cannot give them back). */
const qBytes = (text: string): Buffer =>
  Buffer.from(text.replaceAll('_', ' ').replace(/=([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');

function relabelAsciiWords(value: string): string {
  if (!value.includes('=?')) return value;
  return value.replace(ENCODED_WORD, (word, charset: string, language: string | undefined, encoding: string, text: string) => {
    if (!ASCII_LABEL.test(charset)) return word;
    const bytes = encoding.toLowerCase() === 'b' ? Buffer.from(text, 'base64') : qBytes(text);
    return `=?${isUtf8(bytes) ? 'utf-8' : 'windows-1252'}${language ?? ''}?${encoding}?${text}?=`;
  });
}

/** A field's value as a reader sees it (`decodeRawHeader`, `relabelAsciiWords`), else as `readFields` read it. */
function displayValue(f: RawField, charset: string | null): string {
  return relabelAsciiWords(f.raw === undefined ? f.value : (decodeRawHeader(f.raw, charset) ?? f.value));
}

function decodeWords(value: string): string {
  if (!value.includes('=?')) return value;
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

/** The values of the fields called `name`: as read (identities), or for display in `charset` (`displayValue`). */
const values = (fields: RawField[], name: string, charset?: string | null): string[] =>
  fields.filter((f) => f.name.toLowerCase() === name).map((f) => (charset === undefined ? f.value : displayValue(f, charset)));

function addresses(fields: RawField[], name: string, charset: string | null): ParsedAddress[] {
  const raw = values(fields, name, charset);
  if (raw.length === 0) return [];
  try {
    const out: ParsedAddress[] = [];
    let bytes = 0;
    for (const a of parseAddressHeader(raw, { flatten: true }).value) {
      if (typeof a.address !== 'string' || a.address.trim() === '') continue;
      const address = { email: cutUtf8(a.address.trim(), MAX_ID_BYTES), name: cap(a.name ?? '', MAX_NAME) };
      bytes += Buffer.byteLength(address.email) + Buffer.byteLength(address.name);
      if (bytes > MAX_ADDRESS_LIST_BYTES && out.length > 0) break;
      out.push(address);
    }
    return out;
  } catch {
    return [];
  }
}

/**
 * Message-IDs without angle brackets: the `<…>` tokens, or bare whitespace-separated tokens when there are none. A
 * msg-id holds no whitespace; some mailers fold inside one or put spaces in it, so whitespace inside brackets is
 * dropped (the replies' In-Reply-To and References are read the same way, so they still thread).
 */
function messageIds(value: string | undefined): string[] {
  if (!value) return [];
  const decoded = decodeWords(value);
  const bracketed = [...decoded.matchAll(/<([^<>]+)>/g)].map((m) => m[1]!.replace(/\s+/g, '')).filter((id) => id !== '');
  const ids = bracketed.length > 0 ? bracketed : decoded.split(/[\s,]+/).filter((t) => t !== '' && !/[<>]/.test(t));
  return ids.map((id) => cutUtf8(id, MAX_ID_BYTES));
}

/** A bare token that can be a msg-id: `left@right`, nothing of a phrase or a comment around it. */
const BARE_ID = /^[^@\s"()<>]+@[^@\s"()<>]+$/;

/**
 * The ids In-Reply-To and References name. Besides msg-ids these fields may hold free text (RFC 822's phrases: `Your
 * message of Mon, 1 Jan 2024`, or just `none`), whose words name no message: read as ids, every message carrying the
 * same word (`Your`) was linked into one thread. Without brackets, the value counts only when every token (comments
 * aside) looks like a msg-id; the Message-ID itself is read as before (it is part of a stored email's identity).
 */
function referencedIds(value: string | undefined): string[] {
  if (!value) return [];
  const decoded = decodeWords(value);
  if (/<[^<>]+>/.test(decoded)) return messageIds(value);
  const tokens = decoded.replace(/\([^()]*\)/g, ' ').split(/[\s,]+/).filter((t) => t !== '');
  return tokens.length > 0 && tokens.every((t) => BARE_ID.test(t)) ? tokens.map((id) => cutUtf8(id, MAX_ID_BYTES)) : [];
}

function references(fields: RawField[]): string[] {
  const unique = [...new Set(referencedIds(values(fields, 'references').join(' ')))];
  // Keep the thread root (first) and the most recent ancestors (last): what threading uses.
  return unique.length <= MAX_REFERENCES ? unique : [unique[0]!, ...unique.slice(-(MAX_REFERENCES - 1))];
}

const TIME_OF_DAY = /\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?/;
/** A numeric zone: RFC 5322 `+hhmm`, ISO `+hh:mm`. */
const NUMERIC_ZONE = /^[+-]\d{2}:?\d{2}(?![\d:])/;
/** The zone names V8's parser reads, as RFC 822 defined them (`UTC+1` too). */
const KNOWN_ZONE = /^(?:ut|utc|gmt|z|[ecmp][sd]t)(?![a-z])/i;

/**
 * The date text with a zone V8 reads: left to itself, V8 reads a date without one in the server's local time (the same
 * message then gets another sent_at on another host) and refuses a zone name it does not know (`CET`, `MEZ`, `BST`, a
 * military letter). A numeric zone is kept (a name after it dropped: `+0100 CET`), so is a known name; an unknown name
 * or none at all is UTC, as RFC 5322 §4.3 reads an unknown zone ("-0000").
 */
function withZone(s: string): string {
  const time = TIME_OF_DAY.exec(s);
  if (!time) return s;
  const head = s.slice(0, time.index + time[0].length);
  const zone = s.slice(head.length).trim();
  const numeric = NUMERIC_ZONE.exec(zone)?.[0];
  if (numeric !== undefined) return numeric === zone ? s : `${head} ${numeric}`;
  return KNOWN_ZONE.test(zone) ? s : `${head}Z`;
}

/** C's asctime() form (`Tue Mar  4 10:15:00 2025`, old Unix mailers and mbox tools) rewritten as RFC 5322's order. */
function fromAsctime(s: string): string {
  const m = /^(?:[a-z]{3},? )?([a-z]{3}) (\d{1,2}) (\d{1,2}:\d{2}(?::\d{2})?) (\d{4})\b(.*)$/i.exec(s);
  return m ? `${m[2]} ${m[1]} ${m[4]} ${m[3]}${m[5]}` : s;
}

/**
 * The Date header, or null when missing or unparsable. mailparser substitutes the current time, which would make a
 * broken message look new. Requires an RFC 5322-like (`4 Mar 2025 10:15`), asctime or ISO-like date: V8's `Date`
 * parser alone accepts nearly anything (`new Date('1')` is 2001-01-01). The zone is made explicit first (`withZone`).
 */
export function parseDate(value: string | undefined): Date | null {
  if (!value) return null;
  const s = fromAsctime(value.replace(/\([^()]*\)/g, ' ').replace(/\s+/g, ' ').trim());
  const rfc = /(\d{1,2}) ([a-z]{3})[a-z]{0,6},? (\d{2,4}) \d{1,2}:\d{2}/i.exec(s);
  const iso = rfc ? null : /^(\d{4})-(\d{2})-(\d{2})[t ]\d{2}:\d{2}/i.exec(s);
  if (!rfc && !iso) return null;
  const d = new Date(withZone(s));
  const year = d.getUTCFullYear();
  if (Number.isNaN(d.getTime()) || year < 1900 || year > 9999) return null;
  // V8 rolls an impossible day over (30 Feb → 1 Mar): such a date is as unparsable as any other.
  const [day, month, y] = rfc ? [Number(rfc[1]), MONTHS.indexOf(rfc[2]!.toLowerCase()), Number(rfc[3])] : [Number(iso![3]), Number(iso![2]) - 1, Number(iso![1])];
  const fullYear = y < 50 ? 2000 + y : y < 1000 ? 1900 + y : y; // RFC 5322 §4.3: two- and three-digit years
  return month >= 0 && day >= 1 && day <= new Date(Date.UTC(fullYear, month + 1, 0)).getUTCDate() ? d : null;
}

function headerRecord(fields: RawField[], charset: string | null): Record<string, string> {
  const byName = new Map<string, { name: string; values: string[] }>();
  for (const f of fields) {
    const key = f.name.toLowerCase();
    const entry = byName.get(key) ?? { name: f.name, values: [] };
    entry.values.push(cap(decodeWords(displayValue(f, charset)), MAX_HEADER_VALUE));
    byName.set(key, entry);
  }
  // fromEntries defines own properties, so a header named `__proto__` is just a key.
  return Object.fromEntries(
    [...byName].map(([key, e]) => [e.name, cap(e.values.join(LINE_JOINED.has(key) ? '\n' : ', '), MAX_HEADER_VALUE * 4)]),
  );
}

/**
 * The Message-ID as stored (without brackets), from the fields of `readFields`. A UIDVALIDITY reset reads the headers
 * on the server with it: the same reading, or a stored email and its message there might never match.
 */
export function messageIdOf(fields: RawField[]): string | null {
  return messageIds(values(fields, 'message-id')[0])[0] ?? null;
}

/**
 * Every header-derived field of ParsedMessage from the fields of `readFields`. Never throws on content. `charset`
 * (`declaredCharset`) reads raw 8-bit display text (subject, names, `headers`); identities (Message-ID, In-Reply-To,
 * References) are read without it, as a UIDVALIDITY reset reads them (`messageIdOf`).
 */
export function parseHeaderFields(fields: RawField[], charset: string | null = null): HeaderFields {
  const first = (name: string): string | undefined => values(fields, name)[0];
  const subject = values(fields, 'subject', charset)[0];
  return {
    messageId: messageIdOf(fields),
    subject: subject === undefined ? null : cap(decodeWords(subject), MAX_HEADER_VALUE),
    // No From (a broken or hand-made message): the Sender, when there is one, is who put it on the wire.
    from: addresses(fields, 'from', charset)[0] ?? addresses(fields, 'sender', charset)[0] ?? null,
    to: addresses(fields, 'to', charset),
    cc: addresses(fields, 'cc', charset),
    replyTo: addresses(fields, 'reply-to', charset)[0]?.email ?? null,
    date: parseDate(first('date')),
    inReplyTo: referencedIds(first('in-reply-to'))[0] ?? null,
    references: references(fields),
    headers: headerRecord(fields, charset),
  };
}

/** The top-level Content-Type as mailsplit reads it (first occurrence): is it multipart, and with which boundary. */
export function rootContentType(fields: RawField[]): { multipart: boolean; boundary: string | null } {
  const ct = fields.find((f) => f.name.toLowerCase() === 'content-type');
  if (!ct) return { multipart: false, boundary: null };
  try {
    const parsed = libmime.parseHeaderValue(ct.value);
    const boundary = parsed.params.boundary?.trim();
    return { multipart: /^multipart\//i.test(parsed.value), boundary: boundary ? boundary : null };
  } catch {
    return { multipart: false, boundary: null };
  }
}
