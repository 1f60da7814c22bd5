/**
 * The file name of a MIME part whose Content-Disposition `filename` or Content-Type `name` is written as raw 8-bit
 * bytes of a legacy charset — old mailers write `filename="<KOI8-R bytes>.doc"`, no RFC 2231 or encoded word. mailsplit
 * reads a header that is not UTF-8 as latin1, so such names came out garbled (`óÞÅÔ.doc` for `Счёт.doc`), and a
 * Shift_JIS trail byte 0x5C (`表`, `ソ`) was taken for a backslash escape and dropped. The header is read here as mail
 * clients read it, and as raw Subject/From are read (`decodeRawHeader`): decoded as a whole in the charset its part
 * declares, else the one the message declares, else windows-1252; then its parameters are parsed as mailsplit parses
 * them. Called by `TextPartHook` for each part that names a file.
 */
import libmime from 'libmime';
import { decode8bit, decodeRawHeader, legacyCharset } from './parse-headers.js';

/** The header lines of a mailsplit node (`key` lower case, `line` the raw `Name: value` as latin1 code units). */
export interface PartHeaders {
  getList(): { key: string; line: string }[];
}

/** Raw 8-bit bytes, or the escape of ISO-2022-JP's 7-bit form. */
const RAW = /[\x80-\xff\x1b]/;

/**
 * The part's file name read in its charset, or null to keep mailsplit's own reading: the header that holds the name
 * (`filename`, else `name`, as mailsplit chooses) has no raw bytes, is valid UTF-8, or names the file in RFC 2231 form.
 */
export function partFilename(headers: PartHeaders, partCharset: string | false | undefined, messageCharset: () => string | null): string | null {
  const lines = headers.getList();
  const value = (key: string): string | undefined => {
    const line = lines.find((l) => l.key === key)?.line;
    return line === undefined ? undefined : line.slice(line.indexOf(':') + 1).replace(/\r?\n/g, '').trim();
  };
  const disposition = value('content-disposition');
  const type = value('content-type');
  if (!RAW.test(disposition ?? '') && !RAW.test(type ?? '')) return null;
  const charset = legacyCharset(partCharset) ?? messageCharset();
  const read = (raw: string | undefined) =>
    raw === undefined ? null : libmime.parseHeaderValue(decodeRawHeader(raw, charset) ?? decode8bit(Buffer.from(raw, 'latin1')), { stripComments: true });
  const fromDisposition = read(disposition);
  const [raw, parsed, param] = fromDisposition?.params.filename ? [disposition!, fromDisposition, 'filename'] : [type, read(type), 'name'];
  const name = parsed?.params[param];
  if (!name || !RAW.test(raw ?? '') || parsed.decodedParams.includes(param)) return null;
  try {
    return libmime.decodeWords(name);
  } catch {
    return name;
  }
}
