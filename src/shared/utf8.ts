/** UTF-8 byte limits on JavaScript strings (PostgreSQL index entries, file names). */

/** Cuts `text` to at most `maxBytes` UTF-8 bytes on a code point boundary (linear: hostile values can be 1 MiB). */
export function cutUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text; // a UTF-16 unit is at most 3 UTF-8 bytes (a surrogate pair is 4 for 2)
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += ch.length;
  }
  return text.slice(0, end);
}
