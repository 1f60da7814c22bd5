/**
 * Inline images the HTML body shows without a `cid:` reference, which mailparser leaves out of `html`:
 * - Apple Mail (and iOS Mail) put a picture in the middle of a message as multipart/mixed
 *   [text/html, image (inline, no Content-ID), text/html]: readers show it between the two HTML parts. mailparser joins
 *   the HTML parts and drops the picture from the body, while the attachment stays `is_inline` — so a client that
 *   shows inline images in the body only showed it nowhere.
 * - MHTML (RFC 2557: .NET mailers, Word, "send page by e-mail") names a multipart/related part by `Content-Location`
 *   and the HTML points at it by that URL (`<img src="image1">`), with no Content-ID: the image was a broken relative
 *   link (dropped by the sanitiser) and a non-inline attachment.
 * Such a part gets a Content-ID (a made-up `<inline-N@incoming.invalid>` for the first case, its Content-Location for
 * the second) before mailparser reads its headers, and `apply` writes `cid:` references into the joined HTML, which
 * the sanitiser then resolves like any other.
 */
import type { PartHeaders } from './part-filename.js';

/** What this module reads and writes of a mailsplit node (see `SplitterNode` in text-part-hook.ts). */
export interface ImageNode {
  contentType?: string | false;
  disposition?: string | false;
  filename?: string | false;
  headers?: (PartHeaders & { hasHeader(key: string): boolean; getFirst(key: string): string; add(key: string, value: string): void }) | false;
  parentNode?: { contentType?: string | false } | false;
}

/** A mailparser tree node: the mailsplit node it was made from, the decoded text of a text part, its children. */
interface TreeNode {
  node?: unknown;
  contentType?: string;
  textContent?: string;
  children?: TreeNode[];
}

/**
 * A Content-Location usable as an HTML reference: one printable token, no quote or markup character, and no `cid:` URL
 * (rewriting `src="cid:x"` would break the reference to the part whose Content-ID is x).
 */
const LOCATION = /^(?!cid:)[^\s"'<>]{1,500}$/i;
/** A quoted `src` attribute value that could be a location. */
const SRC = /\bsrc=("[^\s"'<>]{1,500}"|'[^\s"'<>]{1,500}')/gi;

export class InlineImages {
  /** Per parent: the HTML body part that images following it (and following each other) belong after. */
  private readonly anchors = new Map<unknown, ImageNode>();
  private readonly placed: { after: ImageNode; cid: string }[] = [];
  private readonly located = new Set<string>();

  /** Called for every node mailsplit hands to mailparser, in message order, before mailparser reads it. */
  see(node: ImageNode, isHtmlBody: boolean): void {
    const parent = node.parentNode || null;
    const headers = node.headers;
    const type = typeof node.contentType === 'string' ? node.contentType : '';
    const anchor = this.anchors.get(parent);
    this.anchors.delete(parent);
    if (isHtmlBody) {
      this.anchors.set(parent, node);
      return;
    }
    if (!headers || !type.startsWith('image/') || headers.hasHeader('content-id')) return;
    if (anchor && node.disposition === 'inline') {
      const cid = `inline-${this.placed.length + 1}@incoming.invalid`;
      headers.add('Content-ID', `<${cid}>`);
      this.placed.push({ after: anchor, cid });
      this.anchors.set(parent, anchor);
      return;
    }
    const location = headers.getFirst('content-location');
    if (parent && parent.contentType === 'multipart/related' && location && LOCATION.test(location) && !this.located.has(location)) {
      headers.add('Content-ID', `<${location}>`);
      this.located.add(location);
    }
  }

  /** The joined HTML with the references written in; `tree` is mailparser's parse tree once it has ended. */
  apply(html: string, tree: TreeNode | undefined): string {
    // One pass over the HTML, whatever the number of located parts (a message may have up to ~1,000).
    let out = this.located.size === 0 ? html : html.replace(SRC, (m, quoted: string) => (this.located.has(quoted.slice(1, -1)) ? `src=${quoted[0]}cid:${quoted.slice(1)}` : m));
    if (this.placed.length === 0 || !tree) return out;
    // mailparser joins the text of every text/html part, in tree order, verbatim: walking them in that order finds
    // where each ends (a part repeated verbatim is found at its own place, not at its first copy).
    const ends = new Map<unknown, number>();
    let cursor = 0;
    const walk = (n: TreeNode): void => {
      if (n.contentType === 'text/html' && n.textContent) {
        const at = out.indexOf(n.textContent, cursor);
        if (at !== -1) ends.set(n.node, (cursor = at + n.textContent.length));
      }
      n.children?.forEach(walk);
    };
    walk(tree);
    // One pass, in message order (anchors come in tree order, so their ends ascend): a message with hundreds of such
    // pictures costs one copy of its HTML, not one per picture.
    const pieces: string[] = [];
    let done = 0;
    for (const { after, cid } of this.placed) {
      const end = ends.get(after);
      if (end === undefined || end < done) continue;
      pieces.push(out.slice(done, end), `<img src="cid:${cid}">`);
      done = end;
    }
    pieces.push(out.slice(done));
    return pieces.join('');
  }
}
