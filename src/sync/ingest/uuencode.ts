/**
 * uuencoded files (`begin 644 name` … `end`), as old mail clients, gateways and mailing-list digests still send them.
 * mailparser knows only MIME, so a file inside a text body came out as pages of `M…` lines in body_text, and a part
 * with `Content-Transfer-Encoding: x-uuencode` was stored still encoded. A block counts only when it is complete:
 * the begin line, lines of the uuencode alphabet only, and the end line; anything else stays text. Pure, no I/O.
 */
import { trimEndWhere } from '../../shared/text.js';

export interface UuBlock {
  /** As written on the begin line (unsanitised). */
  name: string;
  data: Buffer;
  /** The block's span in the text, begin line through end line (and its line break). */
  start: number;
  end: number;
}

// The name runs to the line's end, trailing blanks cut in code: a lazy name before `[ \t]*\r?$` retried the blanks
// from every character, so a begin line with 100 KB of spaces before its last word cost seconds (quadratic).
const BEGIN = /^begin [0-7]{3,4} +([^\r\n\u2028\u2029]*)/gm;
const END = /^end[ \t]*\r?$/;
const MAX_BLOCKS = 100;

/** The alphabet: ` ` (or the backtick) through `_`, 6 bits each. */
const value = (code: number): number => (code - 32) & 63;

/** One encoded line → its bytes; null when it is not a uuencode line (a character outside the alphabet). */
function decodeLine(line: string): Buffer | null {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (text === '') return Buffer.alloc(0); // a zero-length line whose space was stripped in transit
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x60) return null;
  }
  const n = value(text.charCodeAt(0));
  // At most two characters past the data (some encoders add a checksum); missing ones were trailing spaces (zeros).
  if (text.length - 1 > Math.ceil(n / 3) * 4 + 2) return null;
  const at = (i: number) => (i < text.length ? value(text.charCodeAt(i)) : 0);
  const out = Buffer.alloc(n);
  for (let i = 1, o = 0; o < n; i += 4) {
    const [a, b, c, d] = [at(i), at(i + 1), at(i + 2), at(i + 3)];
    out[o++] = (a << 2) | (b >> 4);
    if (o < n) out[o++] = ((b & 15) << 4) | (c >> 2);
    if (o < n) out[o++] = ((c & 3) << 6) | d;
  }
  return out;
}

/** The complete uuencoded blocks of `text`, in order, with at most `maxBytes` decoded in all. */
export function findUuBlocks(text: string, maxBytes: number): UuBlock[] {
  if (!text.includes('begin ')) return [];
  const blocks: UuBlock[] = [];
  let total = 0;
  BEGIN.lastIndex = 0;
  for (let m = BEGIN.exec(text); m && blocks.length < MAX_BLOCKS; m = BEGIN.exec(text)) {
    const block = readBlock(text, m.index + m[0].length, maxBytes - total);
    if (!block) continue;
    blocks.push({ name: trimEndWhere(m[1]!, (c) => c === ' ' || c === '\t'), data: block.data, start: m.index, end: block.end });
    total += block.data.length;
    BEGIN.lastIndex = block.end;
  }
  return blocks;
}

/** The data lines after a begin line (at `from`, its line break next) up to the end line, or null. */
function readBlock(text: string, from: number, budget: number): { data: Buffer; end: number } | null {
  const parts: Buffer[] = [];
  let size = 0;
  let pos = text.indexOf('\n', from);
  while (pos !== -1) {
    const next = text.indexOf('\n', pos + 1);
    const line = text.slice(pos + 1, next === -1 ? text.length : next);
    if (END.test(line)) return { data: Buffer.concat(parts, size), end: next === -1 ? text.length : next + 1 };
    const bytes = decodeLine(line);
    if (!bytes || (size += bytes.length) > budget) return null;
    parts.push(bytes);
    pos = next;
  }
  return null;
}

/** `text` without the given blocks (sorted, not overlapping). */
export function withoutBlocks(text: string, blocks: readonly UuBlock[]): string {
  let out = '';
  let at = 0;
  for (const b of blocks) {
    out += text.slice(at, b.start);
    at = b.end;
  }
  return out + text.slice(at);
}

/** `Content-Transfer-Encoding` values that mean uuencode. */
export const isUuencodeEncoding = (cte: string | undefined): boolean => /^\s*(x-)?uu(e|encode|encoded)?\s*$/i.test(cte ?? '');
