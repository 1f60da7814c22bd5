/**
 * What parse-message.ts changes in mailparser's reading of the MIME tree, through its splitter (`TextPartHook`): the
 * charset of unlabelled text parts, of US-ASCII aliases and of UTF-16 under its Windows name (`unicode`), a body part
 * whose Content-Type is no `type/subtype`, named text files sent inline, file names written as raw 8-bit bytes
 * (`part-filename.ts`) and the Content-IDs of inline images the HTML shows without one (`inline-images.ts`). Split
 * from parse-message.ts, which runs the parse.
 */
import type { MailParser } from 'mailparser';
import { InlineImages, type ImageNode } from './inline-images.js';
import { ASCII_LABEL } from './parse-headers.js';
import { partFilename } from './part-filename.js';

/** A syntactically valid `type/subtype` (lower case, as mailsplit and normaliseMimeType hold it). */
export const MIME_TYPE = /^[a-z0-9][\w!#$&^.+-]*\/[\w!#$&^.+-]+$/;

/** A MIME node as mailsplit hands it to mailparser (the fields mailparser reads to decode a text part). */
interface SplitterNode extends ImageNode {
  type?: string;
  contentType?: string | false;
  charset?: string | false;
  filename?: string | false;
  disposition?: string | false;
  parentNode?: ParentNode | false;
}
interface ParentNode {
  contentType?: string | false;
  parentNode?: ParentNode | false;
}

/** Inside a multipart/alternative at any depth (an HTML body in alternative > related is a rendering of the body). */
function inAlternative(node: SplitterNode): boolean {
  for (let p = node.parentNode; p; p = p.parentNode) if (p.contentType === 'multipart/alternative') return true;
  return false;
}

/**
 * Windows' names for UTF-16 as MIME charsets (.NET's `Encoding.Unicode`/`BigEndianUnicode` web names, which Windows
 * tools and some Outlook versions write): iconv-lite knows neither, so mailparser read such text as UTF-8 — every
 * other character a NUL, the rest U+FFFD. `utf-16` follows a byte order mark and defaults to little endian, as
 * Windows writes it.
 */
const WINDOWS_UTF16: Readonly<Record<string, string>> = { unicode: 'utf-16', unicodefffe: 'utf-16be' };

/**
 * A part's charset label as mailparser should read it: Windows' UTF-16 names (`WINDOWS_UTF16`), and every US-ASCII
 * alias (`ASCII_LABEL`) as `us-ascii`, which mailparser reads without conversion (UTF-8 stays UTF-8; other 8-bit
 * bytes become U+FFFD and the unlabelled-text pass reads them as windows-1252). mailx labels cron mail with the C
 * locale's `ANSI_X3.4-1968`, which iconv-lite reads as latin1: UTF-8 output came out as `GrÃ¼ÃŸe`.
 */
function charsetLabel(label: string): string {
  const key = label.trim().toLowerCase();
  return WINDOWS_UTF16[key] ?? (ASCII_LABEL.test(key) ? 'us-ascii' : label);
}

/** The text types mailparser joins into the body (message/delivery-status too, which never names a file). */
const BODY_TEXT_TYPES = new Set(['text/plain', 'text/html']);

/**
 * Text parts that declare no charset, or only US-ASCII (`ASCII_LABEL`). mailparser decodes them as UTF-8 (the
 * US-ASCII ones as ASCII), so 8-bit Latin text without a usable label (old clients, mailing lists, many HTML
 * newsletters that name theirs only in a `<meta charset>`) came out as U+FFFD.
 * The hook sees every node mailsplit hands to mailparser (mailparser reads `node.charset` and `node.contentType` when
 * it creates its own node) and records or, with a `fallback`, sets the charset of the unlabelled text parts.
 * It also gives a part without a file name whose Content-Type is no `type/subtype` (`text`, `text/plain charset=utf-8`
 * from broken scripts) the type RFC 2045 §5.2 says it has, text/plain: mailparser stored such a message's whole body
 * as an attachment `attachment-1.bin` and showed no text. And it makes a text or HTML part that names a file an
 * attachment once the body's first text part was seen, outside multipart/alternative at any depth (whose parts are
 * renderings of the body): mutt and Apple Mail send attached `.txt`/`.html`/`.conf` files as `inline` with a file name, and
 * mailparser glued them into body_text (an HTML file became body_html) and listed no attachment.
 * mailparser has no option for any of these defaults, so this reads from its splitter: the hook is tested against the
 * pinned version.
 */
export class TextPartHook {
  unlabelled = 0;
  /** Inline images the HTML shows without a `cid:` reference (inline-images.ts); `images.apply` once parsed. */
  readonly images = new InlineImages();
  private bodySeen = false;
  /**
   * `fallback`: the charset for unlabelled text parts (null: keep mailparser's). `messageCharset`: the legacy charset the
   * message declares (`declaredCharset`), asked only for a part that names its file in raw 8-bit bytes (`partFilename`).
   */
  constructor(
    private readonly fallback: ((contentType: string) => string) | null,
    private readonly messageCharset: () => string | null = () => null,
  ) {}

  attach(parser: MailParser): void {
    tapSplitter(parser, (data: SplitterNode | null) => {
      if (data?.type === 'node' && data.filename && data.headers) {
        data.filename = partFilename(data.headers, data.charset, this.messageCharset) ?? data.filename;
      }
      if (data?.type === 'node' && typeof data.contentType === 'string' && !data.filename && !MIME_TYPE.test(data.contentType)) {
        data.contentType = 'text/plain';
      }
      if (data?.type === 'node' && typeof data.contentType === 'string' && BODY_TEXT_TYPES.has(data.contentType) && data.disposition !== 'attachment') {
        if (data.filename && this.bodySeen && !inAlternative(data)) data.disposition = 'attachment';
        else this.bodySeen = true;
      }
      if (data?.type === 'node' && typeof data.charset === 'string') data.charset = charsetLabel(data.charset);
      if (data?.type === 'node' && typeof data.contentType === 'string' && data.contentType.startsWith('text/') && (!data.charset || ASCII_LABEL.test(data.charset.trim()))) {
        this.unlabelled++;
        if (this.fallback) data.charset = this.fallback(data.contentType);
      }
      if (data?.type === 'node') this.images.see(data, data.contentType === 'text/html' && data.disposition !== 'attachment');
    });
  }
}

/**
 * Calls `see` with each chunk mailparser reads from its splitter (mailsplit: MIME nodes, body and multipart data),
 * before mailparser handles it; `see` may change a node. Does nothing when the pinned mailparser has no splitter.
 */
export function tapSplitter<T>(parser: MailParser, see: (data: T | null) => void): void {
  const splitter = (parser as unknown as { splitter?: { read: (size?: number) => unknown } }).splitter;
  if (!splitter || typeof splitter.read !== 'function') return;
  const read = splitter.read.bind(splitter);
  // Stream internals call read(0) too (and drop what it returns): the argument must pass through.
  splitter.read = (size?: number) => {
    const data = read(size) as T | null;
    see(data);
    return data;
  };
}

// The blanks after a quote are their own group: `\s*["']?\s*` let two runs meet where no quote is, so a meta tag with
// a megabyte of blanks after `charset=` backtracked quadratically (minutes for one message).
const META_CHARSET = /<meta\b[^>]{0,200}?charset\s*=\s*(?:["']\s*)?([a-z0-9_.:-]{1,40})/i;

/**
 * The charset for unlabelled text parts of a message whose body is not valid UTF-8: an HTML part's `<meta charset>`
 * (read from the raw bytes; a UTF-8 one is ignored, the bytes just proved it wrong), otherwise windows-1252 — what
 * browsers and mail clients assume for unlabelled legacy text, a superset of ISO-8859-1 that decodes every byte.
 */
export function legacyCharsets(body: Buffer): (contentType: string) => string {
  const meta = META_CHARSET.exec(body.subarray(0, 1024 * 1024).toString('latin1'))?.[1]?.toLowerCase();
  const html = meta && !/^utf-?8$/.test(meta) ? meta : 'windows-1252';
  return (contentType) => (contentType === 'text/html' ? html : 'windows-1252');
}
