/**
 * Attachment file names from hostile mail. mailparser passes them through raw (`../../etc/passwd`, CR/LF from an
 * encoded word, NUL, the RTL override U+202E, RFC 2231 `filename*` traversal — security-notes.md), so every name we
 * show, store or put in a `Content-Disposition` goes through `sanitizeFilename` first. Pure, no I/O.
 */
import { trimEndWhere } from './text.js';
import { cutUtf8 } from './utf8.js';

/** Whitespace-like controls become a space (so `a\r\nb` stays two words); every other C0/C1 control is dropped. */
const WHITESPACE_CONTROLS = /[\t\n\v\f\r\u0085\u2028\u2029]/g;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
/**
 * Bidi embeddings/overrides/isolates (U+202A–U+202E, U+2066–U+2069) and the implicit marks (LRM, RLM, ALM) can make
 * `evil\u202Egpj.exe` display as `evilexe.jpg`; zero-width characters and the BOM hide look-alike names.
 */
const INVISIBLE = /[\u202a-\u202e\u2066-\u2069\u200b-\u200f\u061c\ufeff]/g;
/** Lone surrogates (not valid UTF-16, cannot be encoded to UTF-8). With the `u` flag a proper pair is not matched. */
const LONE_SURROGATES = /\p{Cs}/gu;
const MAX_BYTES = 200;
/** Longest suffix (dot included) still treated as an extension worth keeping when a name is cut. */
const MAX_EXTENSION_CHARS = 16;

const EXTENSIONS: Readonly<Record<string, string>> = {
  'application/pdf': 'pdf', 'application/zip': 'zip', 'application/gzip': 'gz', 'application/json': 'json',
  'application/xml': 'xml', 'application/msword': 'doc', 'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'pptx',
  'application/ms-tnef': 'dat', 'application/vnd.ms-tnef': 'dat', 'application/pkcs7-signature': 'p7s',
  'application/pgp-signature': 'asc', 'application/ics': 'ics', 'text/calendar': 'ics', 'text/plain': 'txt',
  'text/html': 'html', 'text/csv': 'csv', 'text/vcard': 'vcf', 'text/x-vcard': 'vcf', 'message/rfc822': 'eml',
  'message/delivery-status': 'txt', 'message/disposition-notification': 'txt', 'text/rfc822-headers': 'txt',
  'message/global': 'eml', 'message/global-delivery-status': 'txt', 'message/global-headers': 'txt',
  'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp',
  'image/svg+xml': 'svg', 'image/bmp': 'bmp', 'image/tiff': 'tif', 'image/heic': 'heic', 'audio/wav': 'wav',
  'audio/x-wav': 'wav', 'audio/wave': 'wav', 'audio/mpeg': 'mp3', 'audio/ogg': 'ogg', 'audio/mp4': 'm4a',
  'video/mp4': 'mp4', 'video/quicktime': 'mov',
};

/**
 * Unregistered spellings of registered types that real mailers send: `image/jpg` (PHP scripts, phones, webmail),
 * `image/pjpeg` and `image/x-png` (old Internet Explorer uploads), `application/x-zip-compressed` (Windows).
 */
const ALIASES: Readonly<Record<string, string>> = {
  'image/jpg': 'image/jpeg', 'image/pjpeg': 'image/jpeg', 'image/x-png': 'image/png', 'image/x-ms-bmp': 'image/bmp',
  'application/x-pdf': 'application/pdf', 'application/x-zip-compressed': 'application/zip', 'audio/mp3': 'audio/mpeg',
};

/** The registered type for a lower-case MIME type, when it is one of the `ALIASES`; else the type itself. */
export const canonicalMimeType = (mimeType: string): string => ALIASES[mimeType] ?? mimeType;

/** A file extension (without the dot) for a MIME type (`txt` for other text, `bin` when unknown) — for invented names. */
export function extensionFor(mimeType: string): string {
  const type = canonicalMimeType(mimeType.trim().toLowerCase());
  return EXTENSIONS[type] ?? (type.startsWith('text/') ? 'txt' : 'bin');
}

/** The MIME type a file name's extension stands for (the first one listed for it), else application/octet-stream. */
export function mimeTypeFor(name: string): string {
  const ext = /\.([a-z0-9]{1,16})$/i.exec(name.trim())?.[1]?.toLowerCase();
  const hit = ext && Object.entries(EXTENSIONS).find(([, e]) => e === ext);
  return hit ? hit[0] : 'application/octet-stream';
}

/** Caps a name at MAX_BYTES of UTF-8, keeping a short extension so `very-long….pdf` stays a PDF. */
function capBytes(name: string): string {
  if (Buffer.byteLength(name) <= MAX_BYTES) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= MAX_EXTENSION_CHARS ? name.slice(dot) : '';
  const base = cutUtf8(name.slice(0, name.length - ext.length), MAX_BYTES - Buffer.byteLength(ext)).trimEnd();
  return base === '' ? cutUtf8(name, MAX_BYTES) : base + ext;
}

/**
 * A safe display/download name for an attachment: NFC-normalised, only the last path component (`/` and `\` are
 * both separators), no control, bidi or zero-width characters, whitespace collapsed, no leading dots (no hidden
 * files, no `..`), no trailing dots or spaces (Windows drops them), at most 200 UTF-8 bytes with the extension kept.
 * A name that is only a known extension (`.pdf`) keeps it on the fallback's name (`attachment-1.pdf`).
 * Returns `fallback` when nothing usable is left (callers pass e.g. `attachment-1.pdf` built with `extensionFor`).
 */
export function sanitizeFilename(raw: string | null | undefined, fallback: string): string {
  if (raw === null || raw === undefined) return fallback;
  let name = raw
    .replace(LONE_SURROGATES, '')
    .normalize('NFC')
    .replace(WHITESPACE_CONTROLS, ' ')
    .replace(CONTROLS, '')
    .replace(INVISIBLE, '');
  // Strip path components after removing controls, so `..\u0000/x` cannot hide a separator from the split.
  name = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  name = name.replace(/\s+/g, ' ').trim();
  // Only a known extension (`.pdf`, as some clients name a file): the fallback's name with it, not a bare `pdf`.
  if (/^\.+[^.]+$/.test(name) && mimeTypeFor(name) !== 'application/octet-stream') {
    return capBytes(`${fallback.replace(/\.[^.]*$/, '')}.${name.replace(/^\.+/, '')}`);
  }
  // Not `/[.\s]+$/`: from every dot of a long run followed by another character, it scanned the rest (quadratic).
  name = trimEndWhere(name.replace(/^[.\s]+/, ''), (c) => c === '.' || /\s/.test(c));
  if (name === '') return fallback;
  return capBytes(name);
}

/**
 * The `filename=` of a Content-Disposition for clients that ignore `filename*` (RFC 6266 §4.3): the name in ASCII,
 * accents dropped (`Facture été.pdf` → `Facture ete.pdf`) and other characters `_`, where the content-disposition
 * library's default puts `?`, which Windows refuses in file names. `true` (the library's own) for an ASCII name.
 */
export function asciiFilename(name: string): string | true {
  if (/^[\x20-\x7e]*$/.test(name)) return true;
  return name.normalize('NFKD').replace(/\p{M}/gu, '').replace(/[^\x20-\x7e]/g, '_');
}
