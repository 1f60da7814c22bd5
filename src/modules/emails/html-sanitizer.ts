/**
 * Sanitises an email's HTML body for display inside a client application (mailparser passes hostile HTML through
 * verbatim: security-notes.md). Allow-list based, on `sanitize-html` (htmlparser2, no DOM: fast enough to run per email
 * per request). Policy:
 * - Kept: normal email formatting — text, tables and their layout attributes, images, links, fonts, colours, inline
 *   `style` filtered to an allow-list of properties whose values carry no script (`expression()`, `javascript:`, CSS
 *   escapes, comments, `url()` other than http(s)); property names are read case-insensitively (`normaliseStyle`). A
 *   `url(cid:…)` in a `background`/`background-image` declaration (Outlook and Word HTML) is rewritten to the inline
 *   image's URL, as `<img src>` is (`inlineCidStyle`). Word's paragraph classes keep their margins (`wordParagraphStyle`).
 * - Dropped with their content: `<script>`, `<style>` blocks (they restyle the host page and are a CSS exfiltration
 *   channel; inline styles carry the formatting), `<head>`/`<title>`, `<svg>`/`<math>` (script and animation vectors),
 *   `<template>`, `<textarea>`, `<select>`/`<option>`, `<noscript>`.
 * - Dropped, content kept: everything else not allowed — forms, inputs, buttons, `<base>`, `<meta>`, `<link>`,
 *   `<iframe>`/`<object>`/`<embed>`, `<html>`/`<body>` wrappers.
 * - Attributes: an allow-list, so every `on*` handler, `formaction`, `srcdoc`, `xlink:href` and friends disappear;
 *   `id`, `class` and `name` are dropped too (DOM clobbering of the host page, host CSS bleeding in).
 * - URLs: links allow http, https, mailto and tel; images (and table/cell `background`s) http, https, `cid:` (rewritten
 *   through `opts.cidUrl`; unknown cid → no src) and `data:image/{png,jpeg,gif,webp,bmp};base64` (common in generated mail, inert in `<img>`; SVG data
 *   URLs are refused). Relative and protocol-relative URLs are dropped: they would resolve against our origin. Scheme
 *   checks ignore case, entities (decoded by the parser) and the control/whitespace characters browsers skip.
 * - Links get `target="_blank" rel="noopener noreferrer"`.
 * `position` is not an allowed style property, so mail cannot overlay the host page (UI redressing).
 * - Nesting: htmlparser2 keeps its open elements in an array it inserts into at the front, so a parse costs the sum
 *   of the depths at every tag: 200,000 nested `<div>` (1 MB) held the event loop for 8 s. The sum is counted through
 *   the open/close callbacks (they follow the parser's own stack), and past MAX_NESTING_WORK the message's text is
 *   shown instead, with a notice. Real mail, even a 600 KB newsletter, stays orders of magnitude below it; the
 *   count is deterministic, so a busy machine never turns a normal message into text.
 */
import sanitizeHtml, { type IOptions, type Attributes } from 'sanitize-html';

export interface SanitizeOptions {
  /** URL serving the inline attachment with this Content-ID (already normalised by `normalizeContentId`), or null when unknown. */
  cidUrl: (cid: string) => string | null;
  /** The message's text body, shown instead of HTML too deeply nested to parse in time (else the HTML's own text). */
  fallbackText?: string | null;
}

/**
 * Σ (open elements at each tag) a body may cost: ~100 ms of parsing here. A 600 KB newsletter costs ~600,000; 5,000
 * unclosed `<font>` tags (260 KB of sloppy HTML) 2·10⁸, 20,000 of them 3.2·10⁹ (1.7 s).
 */
export const MAX_NESTING_WORK = 200_000_000;

class NestedTooDeeply extends Error {}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
const escapeText = (text: string) => text.replace(/[&<>"]/g, (c) => ESCAPES[c]!);

/** The text shown for a body the sanitizer gave up on: never markup from the message. */
function textFallback(html: string, text: string | null | undefined): string {
  const body = text?.trim() ? text : html.replace(/<[^>]*>?/g, ' ').replace(/\s+/g, ' ');
  return (
    '<p><em>This message\'s HTML is nested too deeply to display; its text follows.</em></p>' +
    `<pre style="white-space: pre-wrap">${escapeText(body.trim())}</pre>`
  );
}

/**
 * A Content-ID as stored or as referenced by `cid:` URLs, in one comparable form: %-escapes decoded, no `<>`, trimmed,
 * lower case. RFC 2392 %-encodes the URL and not the header, but mailers also put escapes in the header itself
 * (`Content-ID: <logo%20v2@x>` with `src="cid:logo%20v2@x"`): decoding both sides the same way matches those. A header
 * with an RFC 2392 reference (`cid:a%2541@x` for `<a%41@x>`) matches its `bareContentId`; the resolver keeps both.
 */
export function normalizeContentId(raw: string): string {
  let cid = raw;
  try {
    cid = decodeURIComponent(cid);
  } catch {
    // not valid %-encoding: kept as written
  }
  return bareContentId(cid);
}

/**
 * A Content-ID header as written: no `<>`, trimmed, lower case, escapes kept. RFC 2392 %-encodes only the URL, so
 * `Content-ID: <a%41@x>` is referenced as `cid:a%2541@x`, whose `normalizeContentId` is this form, not the header's.
 */
export function bareContentId(raw: string): string {
  let cid = raw.trim();
  if (cid.startsWith('<') && cid.endsWith('>')) cid = cid.slice(1, -1).trim();
  return cid.toLowerCase();
}

/** Characters browsers skip inside URLs (and HTML comments): removed before any scheme check, as launder does. */
function cleanUrl(value: string): string {
  return withoutComments(value.replace(/[\u0000-\u0020\u007f-\u00a0\u2028\u2029\ufeff]+/g, ''));
}

/**
 * `value` without `<!--…-->` comments, as `replace(/<!--[\s\S]*?-->/g, '')` would, in linear time: that regex scanned
 * to the end from every `<!--` when no `-->` followed, so an href of 100 KB of `<!--` held the event loop for seconds
 * on every read of the message (a 1 MB one, minutes).
 */
function withoutComments(value: string): string {
  let out = '';
  let from = 0;
  for (let open = value.indexOf('<!--'); open !== -1; open = value.indexOf('<!--', from)) {
    const close = value.indexOf('-->', open + 4);
    if (close === -1) break; // no comment ends after this one, so none after any later one either
    out += value.slice(from, open);
    from = close + 3;
  }
  return out + value.slice(from);
}

const SCHEME = /^([a-z][a-z0-9.+-]*):/i;
const LINK_SCHEMES = new Set(['http', 'https', 'mailto', 'tel']);
const WEB_SCHEMES = new Set(['http', 'https']);
const RASTER_DATA_URL = /^data:image\/(?:png|jpe?g|gif|webp|bmp);base64,[a-z0-9+/=]*$/i;

/** The URL when its scheme is allowed, else null (relative, protocol-relative and unknown schemes are refused). */
function allowedUrl(raw: string | undefined, schemes: Set<string>): string | null {
  if (raw === undefined) return null;
  const scheme = SCHEME.exec(cleanUrl(raw))?.[1]?.toLowerCase();
  return scheme !== undefined && schemes.has(scheme) ? raw.trim() : null;
}

/** The img `src` to emit: web URLs, raster data URLs, or a `cid:` reference rewritten to the attachment's URL. */
function imageSrc(raw: string | undefined, cidUrl: SanitizeOptions['cidUrl']): string | null {
  if (raw === undefined) return null;
  const clean = cleanUrl(raw);
  const scheme = SCHEME.exec(clean)?.[1]?.toLowerCase();
  if (scheme === 'cid') {
    const cid = normalizeContentId(clean.slice(4));
    return cid === '' ? null : cidUrl(cid);
  }
  if (scheme === 'data') return RASTER_DATA_URL.test(clean) ? clean : null;
  return scheme !== undefined && WEB_SCHEMES.has(scheme) ? raw.trim() : null;
}

/** Sets or removes one attribute. */
function put(attribs: Attributes, name: string, value: string | null): Attributes {
  if (value === null) delete attribs[name];
  else attribs[name] = value;
  return attribs;
}

/**
 * A CSS value is accepted unless it holds something that can run script, escape the declaration or fetch a non-web
 * URL. CSS escapes (`\`) are refused outright because `e\78 pression` or `u\72l(` would slip past any word check.
 */
const SAFE_CSS_VALUE =
  /^(?![\s\S]*(?:[\\<>@{}]|\/\*|expression|script:|binding|behavior|image-set|image\(|element\(|src\(|url\((?!\s*['"]?https?:\/\/)))/i;

/** A `background`/`background-image` declaration of an inline style: separator, `name:` and value. */
const BACKGROUND_DECLARATION = /(^|;)(\s*background(?:-image)?\s*:)([^;]*)/gi;
/** `url(cid:…)`, bare or quoted. Escapes, comments or controls in it do not match: such a value stays refused. */
const CSS_CID_URL = /url\(\s*(['"]?)cid:([^'"()\\\s\x00-\x1f\x7f]+)\1\s*\)/gi;
/** A web or same-origin path URL that can be written into CSS `url()` unquoted as it is (the signed attachment URLs can). */
const CSS_PLAIN_URL = /^(?:https?:\/\/|\/(?!\/))[\w/?&=.:%~+-]*$/;

/**
 * An inline style with each `url(cid:…)` of its `background`/`background-image` declarations rewritten through
 * `cidUrl`; the URLs written are added to `inlined`, the only relative URLs those two properties then accept
 * (`backgroundValue`). An unknown cid stays `url(cid:…)`, which the style filter drops. The split at `;` may cut a
 * quoted string: a rewrite inside another declaration only makes that one fail its own check.
 */
function inlineCidStyle(style: string, cidUrl: SanitizeOptions['cidUrl'], inlined: Set<string>): string {
  if (!/cid:/i.test(style)) return style;
  return style.replace(BACKGROUND_DECLARATION, (_m, sep: string, name: string, value: string) =>
    sep + name + value.replace(CSS_CID_URL, (url, _quote, cid: string) => {
      const src = imageSrc(`cid:${cid}`, cidUrl);
      if (src === null || !CSS_PLAIN_URL.test(src)) return url;
      inlined.add(src);
      return `url(${src})`;
    }),
  );
}

/** A declaration's property name: after the start or a `;`, before its `:`. */
const PROPERTY_NAME = /(^|;)(\s*)([a-z-]+)(?=\s*:)/gi;

/**
 * An inline style as the style filter is to read it: property names in lower case, as its allow-list spells them —
 * CSS reads them case-insensitively, and Outlook 2003–2010, Outlook Express and IE-made HTML write `FONT-SIZE: 10pt`,
 * which the filter dropped whole — and `url(cid:…)` backgrounds inlined (`inlineCidStyle`). The filter then applies
 * its rules to the lower-case names (`POSITION: fixed` is still refused).
 */
const normaliseStyle = (style: string, cidUrl: SanitizeOptions['cidUrl'], inlined: Set<string>): string =>
  inlineCidStyle(style.replace(PROPERTY_NAME, (_m, sep: string, space: string, name: string) => sep + space + name.toLowerCase()), cidUrl, inlined);

/** An allowedStyles entry that is a function: sanitize-html only ever calls an entry's `test`. */
const cssCheck = (test: (value: string) => boolean): RegExp => Object.assign(/(?:)/, { test });

/** A background value is safe when it is once its `url()`s written by `inlineCidStyle` are taken out. */
const backgroundValue = (inlined: Set<string>): RegExp =>
  cssCheck((value) => SAFE_CSS_VALUE.test(value.replace(/url\(([^()]*)\)/gi, (url, src: string) => (inlined.has(src) ? 'none' : url))));

const BOX = ['', '-top', '-right', '-bottom', '-left'];
const STYLE_PROPERTIES = [
  'color', 'background', 'background-color', 'background-image', 'background-position', 'background-repeat',
  'background-size', 'border-collapse', 'border-spacing', 'border-radius', 'border-top-left-radius',
  'border-top-right-radius', 'border-bottom-left-radius', 'border-bottom-right-radius',
  ...BOX.flatMap((side) => [`border${side}`, `border${side}-color`, `border${side}-style`, `border${side}-width`, `margin${side}`, `padding${side}`]),
  'width', 'height', 'min-width', 'max-width', 'min-height', 'max-height', 'font', 'font-family', 'font-size',
  'font-style', 'font-weight', 'font-variant', 'line-height', 'letter-spacing', 'word-spacing', 'text-align',
  'text-decoration', 'text-indent', 'text-transform', 'text-shadow', 'text-overflow', 'vertical-align', 'white-space',
  'word-break', 'word-wrap', 'overflow-wrap', 'direction', 'display', 'float', 'clear', 'list-style',
  'list-style-type', 'list-style-position', 'table-layout', 'caption-side', 'empty-cells', 'box-sizing', 'overflow',
  'overflow-x', 'overflow-y', 'opacity', 'box-shadow', 'outline', 'visibility', 'mso-hide', 'mso-line-height-rule',
  'mso-table-lspace', 'mso-table-rspace', '-webkit-text-size-adjust', '-ms-text-size-adjust',
];
const allowedStyles = { '*': Object.fromEntries(STYLE_PROPERTIES.map((p) => [p, [SAFE_CSS_VALUE]])) };

/**
 * Word and Outlook HTML spaces its paragraphs in the `<style>` block, which is dropped: `p.MsoNormal {margin:0}` (every
 * line of an Outlook message is such a paragraph, its blank lines too) and `p.MsoListParagraph {margin:0 0 0 .5in}`
 * (with CxSpFirst/Middle/Last variants). Without them each line took the browser's 1em paragraph margins and the
 * message read double-spaced. The class's rule goes in front of the element's own style, which still wins.
 */
function wordParagraphStyle(tagName: string, attribs: Attributes) {
  const classes = (attribs.class ?? '').toLowerCase().split(/\s+/);
  const rule = classes.includes('msonormal') || classes.includes('msoplaintext') ? 'margin:0'
    : classes.some((c) => c.startsWith('msolistparagraph')) ? 'margin:0 0 0 .5in' : null;
  if (rule !== null) attribs.style = attribs.style ? `${rule};${attribs.style}` : rule;
  return { tagName, attribs };
}

const TABLE_ATTRS = ['align', 'valign', 'width', 'height', 'bgcolor', 'background', 'nowrap'];

/** The options that do not depend on the email; the cid-dependent transforms are added per call. */
const BASE: IOptions = {
  allowedTags: [...new Set([...sanitizeHtml.defaults.allowedTags, 'img', 'font', 'center', 'big', 'strike', 'tt', 'del', 'ins'])],
  allowedAttributes: {
    '*': ['style', 'title', 'dir', 'lang', 'align'],
    a: ['href', 'target', 'rel'],
    img: ['src', 'alt', 'width', 'height', 'border', 'hspace', 'vspace'],
    font: ['color', 'face', 'size'],
    table: [...TABLE_ATTRS, 'border', 'cellpadding', 'cellspacing', 'summary', 'frame', 'rules'],
    td: [...TABLE_ATTRS, 'colspan', 'rowspan', 'headers', 'scope', 'abbr'],
    th: [...TABLE_ATTRS, 'colspan', 'rowspan', 'headers', 'scope', 'abbr'],
    tr: TABLE_ATTRS,
    tbody: ['align', 'valign'],
    thead: ['align', 'valign'],
    tfoot: ['align', 'valign'],
    col: ['span', 'width', 'align', 'valign'],
    colgroup: ['span', 'width', 'align', 'valign'],
    div: ['align'],
    p: ['align'],
    ol: ['start', 'type', 'reversed'],
    ul: ['type'],
    li: ['value', 'type'],
    hr: ['width', 'size', 'noshade', 'color'],
    blockquote: ['cite'],
    q: ['cite'],
    br: ['clear'],
  },
  allowedSchemes: ['http', 'https', 'mailto', 'tel'],
  allowedSchemesByTag: { img: ['http', 'https', 'data'] },
  allowProtocolRelative: false,
  allowedStyles,
  disallowedTagsMode: 'discard',
  // Text inside these is never shown (sanitize-html keeps the text of other dropped tags).
  nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'head', 'title', 'svg', 'math', 'template', 'select', 'xmp'],
  parser: { lowerCaseTags: true, lowerCaseAttributeNames: true },
};


/** Sanitises one email body; see the module comment for the policy. Pure apart from calling `opts.cidUrl`. */
export function sanitizeEmailHtml(html: string, opts: SanitizeOptions): string {
  if (!html) return '';
  let depth = 0;
  let work = 0;
  const count = () => {
    work += depth;
    if (work > MAX_NESTING_WORK) throw new NestedTooDeeply();
  };
  try {
    return sanitize(html, opts, {
      onOpenTag: () => {
        count();
        depth++;
      },
      onCloseTag: () => {
        depth--;
        count();
      },
    });
  } catch (err) {
    if (err instanceof NestedTooDeeply) return textFallback(html, opts.fallbackText);
    throw err;
  }
}

function sanitize(html: string, opts: SanitizeOptions, hooks: Pick<IOptions, 'onOpenTag' | 'onCloseTag'>): string {
  // A table's or cell's `background` is an image: the same URLs as `<img src>`, so Outlook's `cid:` backgrounds show.
  const background = (tagName: string, attribs: Attributes) => ({ tagName, attribs: put(attribs, 'background', imageSrc(attribs.background, opts.cidUrl)) });
  const inlined = new Set<string>();
  const backgrounds = [backgroundValue(inlined)];
  return sanitizeHtml(html, {
    ...BASE,
    ...hooks,
    allowedStyles: { '*': { ...allowedStyles['*'], background: backgrounds, 'background-image': backgrounds } },
    transformTags: {
      // Runs after the tag's own transform, for every tag.
      '*': (tagName, attribs) => {
        if (attribs.style !== undefined) attribs.style = normaliseStyle(attribs.style, opts.cidUrl, inlined);
        return { tagName, attribs };
      },
      a: (tagName, attribs) => {
        const href = allowedUrl(attribs.href, LINK_SCHEMES);
        put(attribs, 'href', href);
        put(attribs, 'target', href === null ? null : '_blank');
        put(attribs, 'rel', href === null ? null : 'noopener noreferrer');
        return { tagName, attribs };
      },
      img: (tagName, attribs) => {
        delete attribs.srcset; // not allowed anyway; a srcset must not outlive a dropped src
        return { tagName, attribs: put(attribs, 'src', imageSrc(attribs.src, opts.cidUrl)) };
      },
      p: wordParagraphStyle,
      div: wordParagraphStyle,
      li: wordParagraphStyle,
      table: background,
      td: background,
      th: background,
      tr: background,
    },
  });
}
