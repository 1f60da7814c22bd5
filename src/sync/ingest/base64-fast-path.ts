/**
 * Fast path for large base64 attachments (README, "Ingest: the base64 fast path"). For such a part most of the parse
 * CPU went to mailsplit's byte-by-byte line loop, libbase64's JavaScript decoding and the garbage both make; here the
 * part is decoded natively (`Buffer.from(…, 'base64')`) straight into the blob store, and MailParser parses a copy of
 * the source in which that body is a one-line placeholder. The attachment MailParser emits for a placeholder gets the
 * real blob's key and size; everything else comes from MailParser as on the plain path.
 *
 * Why the result is the plain path's, exactly:
 * - A part is replaced only when its body is strictly base64 (`decodeStrict`: the alphabet, blanks and line breaks,
 *   padding only at the end — no `-`, so no line of it can be a delimiter line). libbase64 strips the blanks and line
 *   breaks of such text and decodes the rest to the same bytes.
 * - mailsplit reads one line at a time and its state only changes on delimiter lines and the end of a header block.
 *   If, in the placeholder parse, the body of one node is exactly the placeholder (checked on what mailsplit hands
 *   mailparser: `FastPathTracker.verified`), the node was in its body at the start of that line, so in the original
 *   the replaced lines — never delimiters — were that node's body too, and every other line is read the same.
 * - The node was base64-decoded and emitted as an attachment: the one attachment whose content is the placeholder's
 *   decoding (a random nonce per message makes it unique) takes the blob, and each placeholder must be claimed once.
 * Anything else — no such part, a doubt in the scan, a failed check, any parse error — and the caller parses the
 * original source on the plain path (blobs stored here are then unreferenced; the blob sweep removes them).
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import libmime from 'libmime';
import type { MailParser } from 'mailparser';
import type { BlobStore, StoredBlob } from '../../storage/blob-store.js';
import { readFields, type RawField } from './parse-headers.js';
import { MIME_TYPE, tapSplitter } from './text-part-hook.js';

/** Bodies shorter than this stay on the plain path (encoded bytes, line breaks included). */
export const FAST_PATH_MIN_BYTES = 16 * 1024;
/** Well under mailsplit's limit of 1,000 nodes (EMAXLEN): a message with more parts is parsed on the plain path. */
const MAX_PARTS = 500;
const MAX_DEPTH = 16;
/** What a delimiter line may carry after `--boundary` for mailsplit is 1,004 bytes; a longer one is a doubt here. */
const MAX_DELIMITER_TAIL = 1000;
const NONCE_BYTES = 30;
/** A placeholder decodes to the nonce, the part's index (uint32) and two zero bytes: 48 base64 characters. */
const PLACEHOLDER_BYTES = NONCE_BYTES + 6;
/** The longest body a placeholder makes: its base64 and a CRLF. */
const PLACEHOLDER_BODY = (PLACEHOLDER_BYTES / 3) * 4 + 2;
const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;

interface Region {
  /** The body, from the line after the part's header block to the start of the next delimiter line. */
  start: number;
  end: number;
}

interface Part {
  blob: StoredBlob;
  /** The placeholder's base64 line with its line break, as it stands in the source. */
  line: string;
  decoded: Buffer;
}

export interface FastSource {
  /** The source MailParser parses: the original with each replaced body as its placeholder line. */
  raw: Buffer;
  parts: Part[];
  nonce: Buffer;
}

/** The first field named `name` (lower case), as mailsplit reads a part's Content-Type and encoding. */
const field = (fields: RawField[], name: string): string | undefined => fields.find((f) => f.name.toLowerCase() === name)?.value;

/** A part's Content-Type as mailsplit reads it: lower-case type and the boundary (ASCII, trailing blanks dropped). */
function contentType(fields: RawField[]): { type: string; boundary: string | null } | null {
  const value = field(fields, 'content-type');
  if (value === undefined) return null;
  const parsed = libmime.parseHeaderValue(value, { stripComments: true });
  const boundary = (parsed.params.boundary ?? '').trimEnd();
  return { type: (parsed.value ?? '').trim().toLowerCase(), boundary: boundary !== '' && Buffer.byteLength(boundary) === boundary.length ? boundary : null };
}

/**
 * Offset after the empty line (LF or CRLF) that ends a header block starting at `from`, or -1 when there is none
 * before `to`. Line by line: a search for the empty line would read on through the body (and the rest of the source).
 */
function headerEnd(raw: Buffer, from: number, to: number): number {
  for (let line = from; line < to; ) {
    if (raw[line] === LF) return line + 1;
    if (raw[line] === CR && raw[line + 1] === LF) return line + 2;
    const lf = raw.indexOf(LF, line);
    if (lf === -1) return -1;
    line = lf + 1;
  }
  return -1;
}

interface Delimiter {
  /** Start of the delimiter line (after the previous line's LF). */
  at: number;
  /** Offset after its line break. */
  next: number;
  close: boolean;
}

/**
 * The delimiter lines of `boundary` in raw[from, to) up to the closing one, read as mailsplit's `checkBoundary` does:
 * `--boundary`, optional `--`, SP/HTAB, CR… LF. Null on a doubt (a delimiter after a lone CR, or one at the very end
 * that mailsplit may read differently).
 */
function delimiters(raw: Buffer, from: number, to: number, boundary: string): Delimiter[] | null {
  const dashed = Buffer.from(`--${boundary}`, 'latin1');
  // Searched within the range only: an unclosed multipart must not make each of its searches read the whole source.
  const range = raw.subarray(0, to);
  const out: Delimiter[] = [];
  for (let i = range.indexOf(dashed, from); i !== -1; i = range.indexOf(dashed, i + 1)) {
    if (i > from && raw[i - 1] !== LF) {
      // mailsplit splits lines at LF only but reads a line that starts with a lone CR before `--` as a delimiter.
      if (raw[i - 1] === CR && (i - 1 === from || raw[i - 2] === LF)) return null;
      continue;
    }
    let j = i + dashed.length;
    const close = raw[j] === DASH && raw[j + 1] === DASH;
    if (close) j += 2;
    while (raw[j] === 0x20 || raw[j] === 0x09) j++;
    const tooLong = (): boolean => j - i - dashed.length > MAX_DELIMITER_TAIL;
    if (j >= raw.length) return close && !tooLong() ? [...out, { at: i, next: j, close }] : null;
    while (raw[j] === CR) j++;
    if (j >= raw.length || tooLong()) return null;
    if (raw[j] !== LF) continue;
    out.push({ at: i, next: j + 1, close });
    if (close) break;
  }
  return out;
}

/** Scans the parts of a multipart body raw[from, to) for base64 bodies to replace; false on a doubt. */
function scanMultipart(raw: Buffer, from: number, to: number, boundary: string, open: string[], out: Region[], count: { parts: number }): boolean {
  if (open.length >= MAX_DEPTH || open.some((b) => b.startsWith(boundary) || boundary.startsWith(b))) return false;
  const lines = delimiters(raw, from, to, boundary);
  if (lines === null || lines.length === 0 || lines[0]!.close) return false;
  for (let k = 0; k < lines.length && !lines[k]!.close; k++) {
    if (++count.parts > MAX_PARTS) return false;
    const partEnd = lines[k + 1]?.at ?? to;
    if (!scanPart(raw, lines[k]!.next, partEnd, [...open, boundary], out, count)) return false;
  }
  return true;
}

function scanPart(raw: Buffer, from: number, to: number, open: string[], out: Region[], count: { parts: number }): boolean {
  const body = headerEnd(raw, from, to);
  if (body === -1) return true;
  const fields = readFields(raw.subarray(from, body));
  const ct = contentType(fields);
  if (ct === null) return true;
  if (ct.type.startsWith('multipart/')) return ct.boundary === null || scanMultipart(raw, body, to, ct.boundary, open, out, count);
  const binary = MIME_TYPE.test(ct.type) && !ct.type.startsWith('text/') && !ct.type.startsWith('message/');
  if (binary && field(fields, 'content-transfer-encoding')?.trim().toLowerCase() === 'base64' && to - body >= FAST_PATH_MIN_BYTES && raw[to - 1] === LF) {
    out.push({ start: body, end: to });
  }
  return true;
}

/**
 * The bytes a region's base64 encodes, when it is strictly base64: `atob` (WHATWG forgiving-base64, native) refuses
 * any character but the alphabet and ASCII blanks, and `=` anywhere but at the end. libbase64 decodes such text to
 * the same bytes. Null otherwise (`-`, `_`, 8-bit bytes, padding in the middle: libbase64 and Node disagree there).
 */
function decodeStrict(raw: Buffer, r: Region): Buffer | null {
  try {
    return Buffer.from(atob(raw.toString('latin1', r.start, r.end)), 'latin1');
  } catch {
    return null;
  }
}

/**
 * Stores the large base64 attachment bodies of a multipart message (root header `fields`, body at `start`) and builds
 * the source MailParser parses instead; null when the message has none (or the scan has a doubt). Rejects only when
 * the blob store fails.
 */
export async function prepareFastPath(raw: Buffer, start: number, fields: RawField[], store: BlobStore): Promise<FastSource | null> {
  if (raw.length - start < FAST_PATH_MIN_BYTES) return null;
  const regions: Region[] = [];
  try {
    const root = contentType(fields);
    if (!root?.type.startsWith('multipart/') || root.boundary === null) return null;
    if (!scanMultipart(raw, start, raw.length, root.boundary, [], regions, { parts: 0 })) return null;
  } catch {
    return null; // a header libmime cannot read: the plain path decides what it means
  }
  const nonce = randomBytes(NONCE_BYTES);
  const parts: Part[] = [];
  const pieces: Buffer[] = [];
  let at = 0;
  for (const r of regions) {
    const content = decodeStrict(raw, r);
    if (content === null) continue;
    const decoded = Buffer.alloc(PLACEHOLDER_BYTES);
    nonce.copy(decoded);
    decoded.writeUInt32BE(parts.length, NONCE_BYTES);
    const line = `${decoded.toString('base64')}${raw[r.end - 2] === CR ? '\r\n' : '\n'}`;
    parts.push({ blob: await store.writeBuffer(content), line, decoded });
    pieces.push(raw.subarray(at, r.start), Buffer.from(line, 'latin1'));
    at = r.end;
  }
  if (parts.length === 0) return null;
  pieces.push(raw.subarray(at));
  return { raw: Buffer.concat(pieces), parts, nonce };
}

/** A chunk as mailsplit hands it to mailparser (the fields read here). */
interface SplitterChunk {
  type?: string;
  node?: object;
  value?: Buffer;
}

/** Replays `head`, then the rest of `rest`. */
async function* replay(head: Buffer[], rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield* head;
  for await (const chunk of { [Symbol.asyncIterator]: () => rest }) yield chunk;
}

/** One parse of a `FastSource`: sees mailsplit's node bodies, claims the placeholder attachments, verifies both. */
export class FastPathTracker {
  /** Per node, its body's size and, while that is no longer than a placeholder's, its chunks. */
  private readonly bodies = new Map<object, { size: number; chunks: Buffer[] }>();
  private readonly claimed: number[];

  constructor(private readonly source: FastSource) {
    this.claimed = source.parts.map(() => 0);
  }

  attach(parser: MailParser): void {
    tapSplitter(parser, (data: SplitterChunk | null) => {
      if (data?.type !== 'body' || !data.node || !data.value) return;
      let body = this.bodies.get(data.node);
      if (!body) this.bodies.set(data.node, (body = { size: 0, chunks: [] }));
      body.size += data.value.length;
      body.chunks = body.size > PLACEHOLDER_BODY ? [] : [...body.chunks, data.value];
    });
  }

  /**
   * An attachment's content: the stored blob when it is a placeholder's, else a stream of the content (what was read
   * to tell, then the rest) for the store.
   */
  async claim(content: Readable): Promise<StoredBlob | Readable> {
    const it = content[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const head: Buffer[] = [];
    let size = 0;
    while (size <= PLACEHOLDER_BYTES) {
      const next = await it.next();
      if (next.done) {
        const whole = Buffer.concat(head, size);
        const index = whole.length === PLACEHOLDER_BYTES && whole.subarray(0, NONCE_BYTES).equals(this.source.nonce) ? whole.readUInt32BE(NONCE_BYTES) : -1;
        const part = this.source.parts[index];
        if (!part?.decoded.equals(whole)) return Readable.from(head, { objectMode: false });
        this.claimed[index]!++;
        return part.blob;
      }
      head.push(next.value);
      size += next.value.length;
    }
    return Readable.from(replay(head, it), { objectMode: false });
  }

  /**
   * Whether each placeholder was exactly one node's whole body and was claimed by exactly one attachment. The body is
   * the placeholder's line without its line break (which belongs to the next delimiter line), or with it when no
   * delimiter follows. (A node whose body is a placeholder is at that placeholder: its random nonce is nowhere else.)
   */
  verified(): boolean {
    const found = this.source.parts.map(() => 0);
    const index = new Map(this.source.parts.flatMap((p, i) => [[p.line, i], [p.line.trimEnd(), i]] as const));
    for (const body of this.bodies.values()) {
      const i = body.size <= PLACEHOLDER_BODY ? index.get(Buffer.concat(body.chunks).toString('latin1')) : undefined;
      if (i !== undefined) found[i]!++;
    }
    return found.every((n) => n === 1) && this.claimed.every((n) => n === 1);
  }
}
