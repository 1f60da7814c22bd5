/**
 * Parts mail clients show differently from how mailparser hands them over: inline images the HTML does not reference by
 * Content-ID (inline-images.ts) and forwarded messages attached without a name (embedded-message.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseMessage, type ParsedMessage } from '../../src/sync/ingest/parse-message.js';
import { useTempBlobStore } from '../support/blob-store.js';

const env = useTempBlobStore('parse-parts-');
const parse = (raw: string): Promise<ParsedMessage> => parseMessage(Buffer.from(raw.replace(/\r?\n/g, '\r\n')), env.store, { maxBytes: 1 << 20 });

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';
const head = (type: string) => `From: a@example.com\nTo: b@example.com\nSubject: parts\nMIME-Version: 1.0\nContent-Type: ${type}\n\n`;
const html = (b: string, text: string) => `--${b}\nContent-Type: text/html; charset=utf-8\n\n<p>${text}</p>\n`;
const image = (b: string, name: string, extra = 'Content-Disposition: inline') =>
  `--${b}\nContent-Type: image/png; name="${name}"\n${extra}\nContent-Transfer-Encoding: base64\n\n${PNG}\n`;

describe('inline images without a cid: reference', () => {
  it('pictures between and after HTML parts (Apple Mail) go where they were, in order', async () => {
    const m = await parse(
      head('multipart/alternative; boundary="A"') +
        '--A\nContent-Type: text/plain\n\none two three\n' +
        '--A\nContent-Type: multipart/mixed; boundary="M"\n\n' +
        html('M', 'one') + image('M', 'a.png') + image('M', 'b.png') + html('M', 'two') + image('M', 'c.png') + html('M', 'three') + image('M', 'd.png') +
        '--M--\n--A--\n',
    );
    expect(m.attachments.map((a) => [a.filename, a.isInline, a.contentId])).toEqual([
      ['a.png', true, 'inline-1@incoming.invalid'],
      ['b.png', true, 'inline-2@incoming.invalid'],
      ['c.png', true, 'inline-3@incoming.invalid'],
      ['d.png', true, 'inline-4@incoming.invalid'],
    ]);
    const order = ['<p>one</p>', 'cid:inline-1@', 'cid:inline-2@', '<p>two</p>', 'cid:inline-3@', '<p>three</p>', 'cid:inline-4@'].map((s) => m.bodyHtml!.indexOf(s));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((x, y) => x - y)).toEqual(order);
    expect(m.bodyText).toBe('one two three');
  });

  it('an HTML part repeated verbatim does not move a picture to its first copy', async () => {
    const m = await parse(head('multipart/mixed; boundary="M"') + html('M', 'same') + html('M', 'same') + image('M', 'a.png') + '--M--\n');
    expect(m.bodyHtml).toBe('<p>same</p><br/>\n<p>same</p><img src="cid:inline-1@incoming.invalid">');
  });

  it('left alone: images after a text/plain body, after a multipart/alternative (Thunderbird), with a Content-ID, or attached', async () => {
    const cases = [
      head('multipart/mixed; boundary="M"') + '--M\nContent-Type: text/plain\n\nhi\n' + image('M', 'a.png') + '--M--\n',
      head('multipart/mixed; boundary="M"') + '--M\nContent-Type: multipart/alternative; boundary="A"\n\n--A\nContent-Type: text/plain\n\nhi\n' + html('A', 'hi') + '--A--\n' + image('M', 'a.png') + '--M--\n',
      head('multipart/mixed; boundary="M"') + html('M', 'hi') + image('M', 'a.png', 'Content-Disposition: inline\nContent-ID: <own@x>') + '--M--\n',
      head('multipart/mixed; boundary="M"') + html('M', 'hi') + image('M', 'a.png', 'Content-Disposition: attachment') + '--M--\n',
    ];
    for (const raw of cases) {
      const m = await parse(raw);
      expect(m.bodyHtml ?? '').not.toContain('<img');
      expect(m.attachments[0]!.contentId ?? '').not.toMatch(/incoming\.invalid/);
    }
  });

  it('MHTML: an image named by Content-Location is referenced through it; unusable locations are left alone', async () => {
    const related = (location: string, src: string) =>
      head('multipart/related; boundary="R"') + `--R\nContent-Type: text/html\n\n<img src="${src}"><IMG SRC='${src}'><a href="${src}">x</a>\n` +
      image('R', 'a.png', `Content-Location: ${location}`) + '--R--\n';
    const m = await parse(related('images/logo.png', 'images/logo.png'));
    expect(m.attachments.map((a) => [a.isInline, a.contentId])).toEqual([[true, 'images/logo.png']]);
    expect(m.bodyHtml).toBe('<img src="cid:images/logo.png"><IMG src=\'cid:images/logo.png\'><a href="images/logo.png">x</a>');
    for (const location of ['cid:other@x', 'a"b.png', '<x>']) {
      const left = await parse(related(location, location));
      expect(left.attachments[0]!.contentId).toBeNull();
      expect(left.bodyHtml).toBe(`<img src="${location}"><IMG SRC='${location}'><a href="${location}">x</a>`);
    }
  });
});

describe('forwarded messages attached without a name', () => {
  const forward = (inner: string, disposition = 'attachment') =>
    head('multipart/mixed; boundary="M"') + '--M\nContent-Type: text/plain\n\nsee attached\n' +
    `--M\nContent-Type: message/rfc822\nContent-Disposition: ${disposition}\n\n${inner}\n--M--\n`;

  it('are named after their Subject, decoded, without path separators', async () => {
    const m = await parse(forward('From: c@example.com\nSubject: =?UTF-8?Q?R=C3=A9union_Q3/Q4_\\_plan?=\n\nbody'));
    expect(m.attachments.map((a) => [a.filename, a.originalFilename, a.mimeType])).toEqual([['Réunion Q3-Q4 - plan.eml', null, 'message/rfc822']]);
  });

  it('keep an invented name without a Subject, and their own name when they have one', async () => {
    expect((await parse(forward('From: c@example.com\n\nbody'))).attachments[0]!.filename).toBe('attachment-1.eml');
    expect((await parse(forward('From: c@example.com\nSubject:   \n\nbody'))).attachments[0]!.filename).toBe('attachment-1.eml');
    const named = await parse(forward('From: c@example.com\nSubject: inner\n\nbody', 'attachment; filename="saved.eml"'));
    expect(named.attachments[0]!.filename).toBe('saved.eml');
  });
});
