/**
 * Parses one raw RFC 822 message for ingest: raw source and attachments into the blob store, header fields, bodies.
 *
 * Design choices (security-notes.md):
 * - mailparser's streaming `MailParser`, never `simpleParser` (which buffers every attachment in memory): each
 *   attachment is piped straight into the blob store and released, so memory stays near the size of the raw message.
 * - Header fields come from our own reading of the raw header block (`parse-headers.ts`), not from mailparser's
 *   `headers` event: the same code then serves normal messages, poison messages whose MIME parse fails (EMAXLEN,
 *   a >1 MiB header — mailparser emits no headers for those) and oversize messages we do not MIME-parse at all; and
 *   it fixes two mailparser behaviours we cannot use (an unparsable Date becomes "now"; raw latin-1 header bytes become
 *   U+FFFD).
 * - Bad input never throws: every parser failure becomes `parseError` on a message that still has its raw source,
 *   headers and whatever attachments were stored before the failure, so the sync can store it and move on. Only
 *   blob-store I/O errors (disk full, permissions) reject — they are not the message's fault and must be retried.
 * - Legacy charsets (ISO-2022-JP, Shift_JIS, GB2312, KOI8-R, windows-125x, ISO-8859-x, …) decode with mailparser's
 *   built-in libmime (iconv-lite + encoding-japanese) — covered by tests, so no native `Iconv` is passed. Unknown
 *   charsets decode as UTF-8 with U+FFFD (libmime's rule); UTF-7 is refused on purpose (it smuggles markup). A text
 *   part that declares no charset (or only US-ASCII) and is not UTF-8 is read as its HTML `<meta charset>` says, else
 *   as windows-1252 (`TextPartHook`), as mail clients do. A file name written as raw 8-bit bytes is read in the charset
 *   its part or the message declares (`part-filename.ts`), as raw 8-bit Subject/From are.
 * - uuencoded files, inside the text body or as an x-uuencode part, are decoded into attachments (`uuencode.ts`).
 * - Large base64 attachments are decoded natively and MailParser parses the source with a placeholder for each
 *   (`base64-fast-path.ts`); the result is proved to be the plain parse's, else the plain parse runs.
 */
import { isUtf8 } from 'node:buffer';
import { Readable } from 'node:stream';
import { MailParser, type AttachmentStream, type MailParserOptions, type MessageText } from 'mailparser';
import { canonicalMimeType, extensionFor, mimeTypeFor, sanitizeFilename } from '../../shared/filenames.js';
import { headerBlock, headerHash } from '../../shared/header-hash.js';
import { blobKey, type BlobStore, type StoredBlob } from '../../storage/blob-store.js';
import { FastPathTracker, prepareFastPath, type FastSource } from './base64-fast-path.js';
import { embeddedMessageName } from './embedded-message.js';
import type { InlineImages } from './inline-images.js';
import { bodyStart, declaredCharset, decode8bit, parseHeaderFields, readFields, rootContentType, type HeaderFields } from './parse-headers.js';
import { legacyCharsets, MIME_TYPE, TextPartHook } from './text-part-hook.js';
import { findUuBlocks, isUuencodeEncoding, withoutBlocks } from './uuencode.js';

export interface ParsedAddress {
  email: string;
  name: string;
}

export interface ParsedAttachment {
  blobKey: string;
  size: number;
  filename: string;
  originalFilename: string | null;
  mimeType: string;
  isInline: boolean;
  contentId: string | null;
}

export interface ParsedMessage {
  /** Without angle brackets. */
  messageId: string | null;
  subject: string | null;
  from: ParsedAddress | null;
  to: ParsedAddress[];
  cc: ParsedAddress[];
  /** First Reply-To address. */
  replyTo: string | null;
  /** Date header; null if missing or unparsable (never "now"). */
  date: Date | null;
  /** Without brackets. */
  inReplyTo: string | null;
  /** Without brackets, de-duplicated, at most 200 (the first and the last 199). */
  references: string[];
  /**
   * Every header: name as first spelled → decoded value (encoded words decoded, raw 8-bit bytes read as UTF-8, else
   * windows-1252). A repeated header's values are joined with "\n" for trace/signature headers (Received,
   * DKIM-Signature, ARC-*, Authentication-Results, …) and ", " for all others; each value is capped at 64 KiB.
   */
  headers: Record<string, string>;
  bodyText: string | null;
  /** UNSANITISED: sanitising happens at read time. */
  bodyHtml: string | null;
  attachments: ParsedAttachment[];
  /** sha256 hex of the raw header block (`shared/header-hash.ts`, the same digest as from an IMAP BODY[HEADER]). */
  headerHash: string;
  rawBlobKey: string;
  /**
   * The raw source was NOT written to the blob store (it is at most `inlineMaxBytes`): the caller stores it in
   * PostgreSQL with the email (`raw_sources`), under `rawBlobKey`.
   */
  rawInline: boolean;
  size: number;
  parseError: string | null;
}

export interface ParseOptions {
  /**
   * Messages larger than this are stored raw and get their header fields only: no bodies, no attachments, and
   * `parseError` stays null (being big is not an error; the raw source is downloadable).
   */
  maxBytes: number;
  /**
   * Raw sources up to this size (default 0: none) are only hashed, not written to the blob store — the caller keeps
   * them (`rawInline`). One file per message was the most expensive step of ingest (bench:ingest-parts).
   */
  inlineMaxBytes?: number;
  /**
   * Called once the raw source is stored (or hashed, inline) and the headers are read, before the MIME parse. The
   * worker pool forwards this so that a worker crash or timeout still yields a storable message.
   */
  onHeaders?: (headersOnly: ParsedMessage) => void;
  /** Large base64 attachments decoded natively (default true; false: the plain path only, for tests and benchmarks). */
  base64FastPath?: boolean;
}

/** Column limits of the emails/attachments tables (varchar(255) / varchar(1000)). */
const MAX_MIME_TYPE = 255;
const MAX_SHORT_TEXT = 1000;

const MAILPARSER_OPTIONS: MailParserOptions = {
  // We never use textAsHtml or cid: rewriting; linkify on every text body is the parser's most expensive step.
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
  // The blob store hashes (sha256) anyway; mailparser's md5 would be a second pass over every attachment.
  checksumAlgo: false,
  // A forwarded message/rfc822 part stays one .eml attachment instead of being spliced into our body text.
  ignoreEmbedded: true,
  // html-to-text (for HTML-only mail) is superlinear on huge markup; above this the HTML is kept, bodyText empty.
  maxHtmlLengthToParse: 1024 * 1024,
};

const cap = (s: string, max: number): string => (s.length > max ? s.slice(0, max) : s);

/**
 * Lone UTF-16 surrogates → U+FFFD. A broken UTF-16 encoded word (`=?UTF-16BE?B?2AA=?=`) or a cap that cuts a pair in
 * half yields them, and PostgreSQL rejects the batch: jsonb refuses `\ud800`. (String#toWellFormed is ES2024.)
 */
const LONE_SURROGATE = /\p{Cs}/gu;
const wf = (s: string): string => s.replace(LONE_SURROGATE, '\ufffd');
const wfOrNull = (s: string | null): string | null => (s === null ? null : wf(s));
/** A body without byte order marks: a part's encoder put one first (Windows tools), and a body is no file to mark. */
const bodyOrNull = (s: string | null): string | null => (s === null ? null : wf(s.replaceAll('\uFEFF', '')));
const wfAddress = (a: ParsedAddress): ParsedAddress => ({ email: wf(a.email), name: wf(a.name) });

function wellFormedFields(h: HeaderFields): HeaderFields {
  return {
    messageId: wfOrNull(h.messageId),
    subject: wfOrNull(h.subject),
    from: h.from && wfAddress(h.from),
    to: h.to.map(wfAddress),
    cc: h.cc.map(wfAddress),
    replyTo: wfOrNull(h.replyTo),
    date: h.date,
    inReplyTo: wfOrNull(h.inReplyTo),
    references: h.references.map(wf),
    // fromEntries defines own properties: a header named `__proto__` stays a key.
    headers: Object.fromEntries(Object.entries(h.headers).map(([k, v]) => [k, wf(v)])),
  };
}


/** The part's type, lower case and in its registered spelling (`image/jpg` → `image/jpeg`); octet-stream when invalid. */
function normaliseMimeType(contentType: string | undefined): string {
  const t = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return t.length <= MAX_MIME_TYPE && MIME_TYPE.test(t) ? canonicalMimeType(t) : 'application/octet-stream';
}

function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return wf(cap(typeof e?.code === 'string' ? `${e.code}: ${message}` : message, MAX_SHORT_TEXT));
}

/** Filesystem errors carry `syscall`; parser errors never do. */
const isIoError = (err: unknown): boolean => typeof (err as { syscall?: unknown } | null)?.syscall === 'string';

/** `derivedName`: a name the part does not carry but its content gives (a forwarded message's Subject). */
function toAttachment(a: AttachmentStream, blob: { key: string; size: number }, index: number, derivedName: string | null): ParsedAttachment {
  const mimeType = normaliseMimeType(a.contentType);
  const original = a.filename ?? null;
  return {
    blobKey: blob.key,
    size: blob.size,
    filename: sanitizeFilename(original ?? derivedName, `attachment-${index}.${extensionFor(mimeType)}`),
    originalFilename: original === null ? null : wf(cap(original, MAX_SHORT_TEXT)),
    mimeType,
    // An image referenced from the HTML (Content-ID inside multipart/related) or explicitly inline.
    isInline: a.related === true || a.contentDisposition === 'inline',
    contentId: a.cid ? wf(cap(a.cid, MAX_SHORT_TEXT)) : null,
  };
}

interface BodyResult {
  bodyText: string | null;
  bodyHtml: string | null;
}

const REPLACEMENT = '\ufffd';

/**
 * An attachment's content into the store: streamed, or decoded first when its part is uuencoded (uuencode.ts). On the
 * fast path, a placeholder's attachment takes the blob stored for it.
 */
async function storeContent(store: BlobStore, a: AttachmentStream, fast: FastPathTracker | null): Promise<StoredBlob> {
  let content: Readable = a.content;
  if (fast) {
    const claimed = await fast.claim(a.content);
    if (!(claimed instanceof Readable)) return claimed;
    content = claimed;
  }
  const cte = a.headers?.get('content-transfer-encoding');
  if (!isUuencodeEncoding(typeof cte === 'string' ? cte : undefined)) return store.writeStream(content);
  const chunks: Buffer[] = [];
  for await (const chunk of content) chunks.push(chunk as Buffer);
  const encoded = Buffer.concat(chunks);
  const [block] = findUuBlocks(encoded.toString('latin1'), encoded.length);
  return store.writeBuffer(block ? block.data : encoded);
}

/** uuencoded files in the text body become attachments (numbered after the MIME ones) and leave the text. */
async function extractUuencoded(body: BodyResult, store: BlobStore, attachments: ParsedAttachment[], maxBytes: number): Promise<BodyResult> {
  const blocks = body.bodyText === null ? [] : findUuBlocks(body.bodyText, maxBytes);
  for (const b of blocks) {
    const blob = await store.writeBuffer(b.data);
    const filename = sanitizeFilename(b.name, `attachment-${attachments.length + 1}.bin`);
    const original = b.name === '' ? null : wf(cap(b.name, MAX_SHORT_TEXT));
    attachments.push({ blobKey: blob.key, size: blob.size, filename, originalFilename: original, mimeType: mimeTypeFor(filename), isInline: false, contentId: null });
  }
  if (blocks.length === 0) return body;
  const text = withoutBlocks(body.bodyText!, blocks);
  return { ...body, bodyText: text.trim() === '' ? null : text };
}

/** The fast path's parse could not be proved to give the plain path's result (base64-fast-path.ts). */
class FastPathMismatch extends Error {}

/**
 * Runs MailParser over `raw` (or the fast path's source), streaming each attachment into the store as it is emitted.
 * Stored attachments are pushed to `attachments` as they complete, so the caller keeps them when the parse fails halfway.
 */
function parseBody(raw: Buffer, store: BlobStore, attachments: ParsedAttachment[], charsets: TextPartHook, fast: FastSource | null): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    const parser = new MailParser(MAILPARSER_OPTIONS);
    charsets.attach(parser);
    const tracker = fast && new FastPathTracker(fast);
    tracker?.attach(parser);
    const writes: Promise<void>[] = [];
    const streaming = new Set<AttachmentStream['content']>();
    let text: MessageText | null = null;
    let settled = false;
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      parser.destroy();
      // A destroyed parser never ends the attachment it was emitting: abort that write (temp file removed, fd closed).
      for (const content of streaming) content.destroy();
      reject(err);
    };
    parser.on('data', (data: AttachmentStream | MessageText) => {
      if (data.type === 'text') {
        text = data;
        return;
      }
      const index = writes.length + 1;
      // pipeline() reports the content stream's errors; this listener only keeps a late one from going unhandled.
      data.content.on('error', () => undefined);
      streaming.add(data.content);
      const write = storeContent(store, data, tracker)
        .then(async (blob) => {
          const derived = data.filename ? null : await embeddedMessageName(store, blob.key, normaliseMimeType(data.contentType));
          if (!settled) attachments.push(toAttachment(data, blob, index, derived));
        })
        // mailparser waits for release() before it reads on: release after the file is complete, on failure too.
        .finally(() => {
          streaming.delete(data.content);
          data.release?.();
        });
      writes.push(write.catch(fail));
    });
    parser.on('error', fail);
    parser.on('end', () => {
      // The last attachment's write can still be in flight when the parser ends (it only waits for release() between
      // parts), so wait for every write before resolving.
      void Promise.all(writes).then(() => {
        if (settled) return;
        if (tracker && !tracker.verified()) return fail(new FastPathMismatch('fast path: placeholders not verified'));
        settled = true;
        const t = text as MessageText | null;
        const html = t?.html ? charsets.images.apply(t.html, (parser as unknown as { tree?: Parameters<InlineImages['apply']>[1] }).tree) : null;
        resolve({ bodyText: bodyOrNull(t?.text ?? null), bodyHtml: bodyOrNull(html) });
      });
    });
    parser.end(fast ? fast.raw : raw);
  });
}

/**
 * Whether the body has a delimiter line that opens a part (`--boundary`, trailing SP/HTAB allowed), read as mailsplit
 * does: a mere mention of `--boundary` inside a line, or only the closing `--boundary--`, leaves mailparser with no
 * part at all — it would drop the whole body silently.
 */
function hasDelimiterLine(raw: Buffer, start: number, boundary: string): boolean {
  const delimiter = Buffer.from(`--${boundary}`);
  for (let i = raw.indexOf(delimiter, start); i !== -1; i = raw.indexOf(delimiter, i + 1)) {
    if (i > start && raw[i - 1] !== 0x0a && raw[i - 1] !== 0x0d) continue;
    let j = i + delimiter.length;
    while (raw[j] === 0x20 || raw[j] === 0x09) j++;
    if (j >= raw.length || raw[j] === 0x0d || raw[j] === 0x0a) return true;
  }
  return false;
}

/**
 * Parses a raw message: stores the raw source first (unless it goes inline, see `inlineMaxBytes`), reads the header
 * fields, then MIME-parses bodies and streams attachments into `store`. Never throws for bad input (see the module
 * comment); rejects only when the blob store fails.
 */
export async function parseMessage(raw: Buffer, store: BlobStore, opts: ParseOptions): Promise<ParsedMessage> {
  const inlineMax = opts.inlineMaxBytes ?? 0;
  const rawInline = inlineMax > 0 && raw.length <= inlineMax;
  const stored = rawInline ? { key: blobKey(raw), size: raw.length } : await store.writeBuffer(raw);
  const fields = readFields(headerBlock(raw));
  const start = bodyStart(raw);
  // The declared charset is looked for only when a header field or file name has raw 8-bit bytes (rare): it may scan
  // the body's start.
  let declared: string | null | undefined;
  const messageCharset = (): string | null => (declared === undefined ? (declared = declaredCharset(fields, raw.subarray(start))) : declared);
  const base: ParsedMessage = {
    ...wellFormedFields(parseHeaderFields(fields, fields.some((f) => f.raw !== undefined) ? messageCharset() : null)),
    bodyText: null,
    bodyHtml: null,
    attachments: [],
    headerHash: headerHash(raw),
    rawBlobKey: stored.key,
    rawInline,
    size: stored.size,
    parseError: null,
  };
  opts.onHeaders?.({ ...base, attachments: [] });
  if (raw.length > opts.maxBytes) return base;

  // mailparser silently yields nothing for a multipart without a delimiter line; keep the body as text instead.
  const ct = rootContentType(fields);
  if (ct.multipart && (ct.boundary === null || !hasDelimiterLine(raw, start, ct.boundary))) {
    const body = start < raw.length ? decode8bit(raw.subarray(start)).replace(/\r\n?/g, '\n') : '';
    return {
      ...base,
      bodyText: body === '' ? null : body,
      parseError: wf(`broken MIME: multipart boundary ${ct.boundary === null ? 'missing' : `"${cap(ct.boundary, 100)}" never appears as a delimiter line`}`),
    };
  }

  // Large base64 attachments decoded natively (base64-fast-path.ts); on any doubt, the plain parse of the source.
  const fast = ct.multipart && opts.base64FastPath !== false ? await prepareFastPath(raw, start, fields, store) : null;
  const parse = (source: FastSource | null) => parseParts(raw, start, base, store, opts.maxBytes, messageCharset, source);
  const parsed = fast && (await parse(fast));
  return parsed && parsed.parseError === null ? parsed : parse(null);
}

/** The MIME parse of `parseMessage`: bodies and attachments on top of `base`, or `parseError` (I/O errors reject). */
async function parseParts(
  raw: Buffer,
  start: number,
  base: ParsedMessage,
  store: BlobStore,
  maxBytes: number,
  messageCharset: () => string | null,
  fast: FastSource | null,
): Promise<ParsedMessage> {
  const attachments: ParsedAttachment[] = [];
  try {
    const hook = new TextPartHook(null, messageCharset);
    const body = await parseBody(raw, store, attachments, hook, fast);
    const garbled = (t: string | null) => t !== null && t.includes(REPLACEMENT);
    // Unlabelled text that was not UTF-8 (the parse produced U+FFFD and the body bytes are not UTF-8): parse again
    // with a legacy charset for those parts. Rare, so the second pass (attachments are deduplicated) costs little.
    if (hook.unlabelled > 0 && (garbled(body.bodyText) || garbled(body.bodyHtml)) && !isUtf8(raw.subarray(start))) {
      const again: ParsedAttachment[] = [];
      const redone = await parseBody(raw, store, again, new TextPartHook(legacyCharsets(raw.subarray(start)), messageCharset), fast);
      return { ...base, ...(await extractUuencoded(redone, store, again, maxBytes)), attachments: again };
    }
    return { ...base, ...(await extractUuencoded(body, store, attachments, maxBytes)), attachments };
  } catch (err) {
    if (isIoError(err)) throw err;
    return { ...base, attachments, parseError: describeError(err) };
  }
}
