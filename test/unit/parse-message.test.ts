import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerHash } from '../../src/shared/header-hash.js';
import { BlobStore } from '../../src/storage/blob-store.js';
import { parseMessage, type ParsedMessage } from '../../src/sync/ingest/parse-message.js';
import * as F from '../fixtures/messages.js';

let dir: string;
let store: BlobStore;
const MAX = 10 * 1024 * 1024;
const parse = (raw: Buffer, maxBytes = MAX): Promise<ParsedMessage> => parseMessage(raw, store, { maxBytes });
const blob = (key: string): Promise<Buffer> => readFile(store.path(key));

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'parse-message-'));
  store = new BlobStore(path.join(dir, 'blobs'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Invariants every result must satisfy, whatever the input. */
async function expectStoredRaw(raw: Buffer, m: ParsedMessage): Promise<void> {
  expect(m.rawBlobKey).toBe(F.sha256(raw));
  expect(m.size).toBe(raw.length);
  expect(m.headerHash).toBe(headerHash(raw));
  // Buffer.equals: vitest's deep equality walks a Buffer byte by byte (seconds per MiB).
  expect((await blob(m.rawBlobKey)).equals(raw)).toBe(true);
}

describe('parseMessage: ordinary mail', () => {
  it('plain text', async () => {
    const raw = F.plainText();
    const m = await parse(raw);
    await expectStoredRaw(raw, m);
    expect(m).toMatchObject({
      messageId: 'fixture-1@example.com',
      subject: 'Test message',
      from: { email: 'alice@example.com', name: 'Alice Sender' },
      to: [{ email: 'bob@example.com', name: 'Bob Receiver' }, { email: 'carol@example.com', name: '' }],
      cc: [],
      replyTo: null,
      inReplyTo: null,
      references: [],
      bodyText: 'Hello Bob,\nthis is a plain message.\n',
      bodyHtml: null,
      attachments: [],
      parseError: null,
    });
    expect(m.date).toEqual(new Date(F.DATE_ISO));
    expect(m.headers).toMatchObject({ From: 'Alice Sender <alice@example.com>', 'Message-ID': '<fixture-1@example.com>', 'MIME-Version': '1.0' });
  });

  it('a raw source up to inlineMaxBytes is only hashed (rawInline, no file); a larger one is stored', async () => {
    const small = F.plainText('inline me\n', { Subject: 'inline' });
    const large = F.withAttachments([40_000]);
    const opts = { maxBytes: MAX, inlineMaxBytes: small.length };
    const a = await parseMessage(small, store, opts);
    expect(a).toMatchObject({ rawInline: true, rawBlobKey: F.sha256(small), size: small.length, subject: 'inline', parseError: null });
    await expect(blob(a.rawBlobKey)).rejects.toThrow(/ENOENT/);
    const b = await parseMessage(large, store, opts);
    expect(b.rawInline).toBe(false);
    await expectStoredRaw(large, b);
    // Attachments are blob files either way.
    expect((await blob(b.attachments[0]!.blobKey)).length).toBe(40_000);
    expect((await parse(small)).rawInline).toBe(false); // default: every source is a file
  });

  it('html + text alternative: both bodies, HTML unsanitised, threading headers', async () => {
    const m = await parse(F.htmlAlternative());
    expect(m.bodyText).toBe('Plain version\n');
    expect(m.bodyHtml).toBe('<p>HTML <b>version</b><script>x()</script></p>\n');
    expect(m.cc).toEqual([{ email: 'dave@example.com', name: 'Dave, D.' }]);
    expect(m.replyTo).toBe('replies@example.com');
    expect(m.inReplyTo).toBe('parent@example.com');
    expect(m.references).toEqual(['root@example.com', 'parent@example.com']);
    expect(m.headers.References).toBe('<root@example.com> <parent@example.com>');
  });

  it('streams attachments of various sizes into the store with the right size and sha256', async () => {
    const sizes = [0, 1, 1000, 200_000, 1_500_000];
    const m = await parse(F.withAttachments(sizes));
    expect(m.parseError).toBeNull();
    expect(m.bodyText).toBe('See attached.\n');
    expect(m.attachments.map((a) => a.size)).toEqual(sizes);
    for (const [i, a] of m.attachments.entries()) {
      const expected = F.bytes(sizes[i]!, i + 1);
      expect(a).toMatchObject({ blobKey: F.sha256(expected), filename: `file-${i}.bin`, originalFilename: `file-${i}.bin`, mimeType: 'application/octet-stream', isInline: false, contentId: null });
      expect((await blob(a.blobKey)).equals(expected)).toBe(true);
    }
  });

  it('inline cid image: isInline, contentId without brackets, invented name from the MIME type', async () => {
    const m = await parse(F.inlineImage());
    expect(m.bodyHtml).toContain('cid:logo@example.com'); // cid links are left for the read side to resolve
    expect(m.attachments).toEqual([
      { blobKey: F.sha256(F.PNG), size: F.PNG.length, filename: 'attachment-1.png', originalFilename: null, mimeType: 'image/png', isInline: true, contentId: 'logo@example.com' },
    ]);
  });

  it('nested message/rfc822 becomes one .eml attachment with the exact inner bytes', async () => {
    const m = await parse(F.nestedMessage());
    expect(m.bodyText).toBe('Forwarding this.\n');
    expect(m.attachments).toHaveLength(1);
    expect(m.attachments[0]).toMatchObject({ filename: 'Inner message.eml', mimeType: 'message/rfc822', isInline: false });
    expect((await blob(m.attachments[0]!.blobKey)).toString()).toContain('Subject: Inner message');
  });

  it('TNEF winmail.dat is kept as an attachment', async () => {
    const m = await parse(F.tnef());
    expect(m.attachments).toEqual([expect.objectContaining({ filename: 'winmail.dat', mimeType: 'application/ms-tnef', size: F.TNEF.length, blobKey: F.sha256(F.TNEF) })]);
  });

  it('missing Message-ID and Date → null (never "now")', async () => {
    const m = await parse(F.missingIdAndDate());
    expect(m.messageId).toBeNull();
    expect(m.date).toBeNull();
    expect(m.parseError).toBeNull();
  });

  it('multiple From headers: the first mailbox of the first; repeated headers joined by the documented rule', async () => {
    const m = await parse(F.multipleFrom());
    expect(m.from).toEqual({ email: 'first@example.com', name: 'First' });
    expect(m.to.map((a) => a.email)).toEqual(['a@example.com', 'b@example.com']);
    expect(m.headers.From).toBe('First <first@example.com>, second@example.com, third@example.com');
    expect(m.headers.To).toBe('a@example.com, b@example.com');
    expect(m.headers.Received).toBe('from a by b; Tue, 4 Mar 2025 10:00:00 +0000\nfrom c by d; Tue, 4 Mar 2025 10:00:01 +0000');
  });

  it('a byte order mark opening a text or HTML part is not part of the body', async () => {
    const part = (type: string, body: string) => `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]).toString('base64')}\r\n`;
    const raw = Buffer.from(
      `From: a@example.com\r\nSubject: bom\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n${part('text/plain', 'Caf\u00e9 ouvert')}--b\r\n${part('text/html', '<p>Caf\u00e9</p>')}--b--\r\n`,
    );
    const m = await parse(raw);
    expect(m.bodyText).toBe('Café ouvert');
    expect(m.bodyHtml).toBe('<p>Café</p>');
  });

  it('empty message', async () => {
    const raw = F.emptyMessage();
    const m = await parse(raw);
    await expectStoredRaw(raw, m);
    expect(m).toMatchObject({ messageId: null, subject: null, from: null, to: [], headers: {}, bodyText: null, bodyHtml: null, attachments: [], parseError: null });
  });
});

describe('parseMessage: broken and hostile input never throws', () => {
  it('missing closing boundary: parts up to the cut are kept', async () => {
    const m = await parse(F.unclosedBoundary());
    expect(m.parseError).toBeNull();
    expect(m.bodyText).toBe('Before the cut\n');
    expect(m.attachments).toEqual([expect.objectContaining({ filename: 'cut.pdf', size: 600, blobKey: F.sha256(F.bytes(600, 3)) })]);
  });

  it('boundary that never appears: body kept as text, parseError says why', async () => {
    const m = await parse(F.missingBoundary());
    expect(m.bodyText).toBe('This text has no MIME parts at all.\nSecond line.\n');
    expect(m.parseError).toMatch(/boundary "NEVER-THERE" never appears/);
    expect(m.subject).toBe('No boundary');
  });

  it('multipart without a boundary parameter', async () => {
    const raw = F.message({ headers: ['Content-Type: multipart/mixed'], body: Buffer.from('orphan text\r\n') });
    const m = await parse(raw);
    expect(m.parseError).toMatch(/boundary missing/);
    expect(m.bodyText).toBe('orphan text\n');
  });

  it('a Content-Type that is no type/subtype is text/plain (RFC 2045 §5.2), not an attachment-1.bin holding the body', async () => {
    const head = 'From: a@example.com\nSubject: broken type\nMIME-Version: 1.0\n';
    const utf8 = await parse(Buffer.from(`${head}Content-Type: text/plain charset=utf-8\n\nGrüße\n`.replace(/\n/g, '\r\n')));
    expect(utf8).toMatchObject({ bodyText: 'Grüße\n', attachments: [], parseError: null });
    const latin = await parse(Buffer.from(`${head}Content-Type: text\n\nGr\xfc\xdfe\n`.replace(/\n/g, '\r\n'), 'latin1'));
    expect(latin).toMatchObject({ bodyText: 'Grüße\n', attachments: [] });
    // In a multipart: a part without a name joins the text; one that names a file stays an attachment.
    const mixed = await parse(Buffer.from(
      `${head}Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nfirst\n--b\nContent-Type: text\n\nsecond\n` +
        '--b\nContent-Type: application; name="x.pdf"\nContent-Disposition: attachment\n\n%PDF\n--b--\n'.replace(/\n/g, '\r\n'),
    ));
    expect(mixed.bodyText).toBe('first\nsecond');
    expect(mixed.attachments.map((a) => [a.filename, a.mimeType])).toEqual([['x.pdf', 'application/octet-stream']]);
  });

  it('a named text file after the body is an attachment (mutt, Apple Mail send them inline), not glued into the body', async () => {
    const head = 'From: a@example.com\nSubject: files\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n';
    const m = await parse(Buffer.from((
      `${head}--b\nContent-Type: text/plain; charset=us-ascii\nContent-Disposition: inline\n\nHi, config attached.\n` +
      '--b\nContent-Type: text/plain; charset=us-ascii\nContent-Disposition: inline; filename="nginx.conf"\n\nserver { listen 80; }\n' +
      '--b\nContent-Type: text/html; name="report.html"\n\n<h1>Report</h1>\n' +
      '--b\nContent-Type: text/plain\nContent-Disposition: inline\n\n-- \nlist footer\n--b--\n').replace(/\n/g, '\r\n')));
    expect(m.bodyText).toBe('Hi, config attached.\n-- \nlist footer');
    expect(m.bodyHtml).toBeNull();
    expect(m.attachments.map((a) => [a.filename, a.mimeType, a.isInline, a.size])).toEqual([['nginx.conf', 'text/plain', false, 21], ['report.html', 'text/html', false, 15]]);
    // The body itself may carry a name: it stays the body, in a single part or as the first text part.
    const single = await parse(Buffer.from('From: a@example.com\r\nContent-Type: text/plain; name="message.txt"\r\nContent-Disposition: inline; filename="message.txt"\r\n\r\nThe body.\r\n'));
    expect(single).toMatchObject({ bodyText: 'The body.\n', attachments: [] });
    const first = await parse(Buffer.from(`${head}--b\nContent-Type: text/plain; name="body.txt"\n\nThe body.\n--b\nContent-Type: text/plain; name="log.txt"\n\nlog\n--b--\n`.replace(/\n/g, '\r\n')));
    expect(first.bodyText).toBe('The body.');
    expect(first.attachments.map((a) => a.filename)).toEqual(['log.txt']);
    // A named HTML body inside alternative > related is a rendering of the body, not a file.
    const nested = await parse(Buffer.from((
      'From: a@example.com\nContent-Type: multipart/alternative; boundary="alt"\n\n--alt\nContent-Type: text/plain\n\nPlain body\n' +
      '--alt\nContent-Type: multipart/related; boundary="rel"\n\n--rel\nContent-Type: text/html; name="body.html"\n\n<p>HTML body</p>\n' +
      '--rel\nContent-Type: image/png; name="logo.png"\nContent-ID: <logo>\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--rel--\n--alt--\n').replace(/\n/g, '\r\n')));
    expect(nested.bodyHtml).toContain('HTML body');
    expect(nested.attachments.map((a) => a.filename)).toEqual(['logo.png']);
  });

  it('malformed headers: garbage lines skipped, folding unfolded, bad Date → null', async () => {
    const m = await parse(F.malformedHeaders());
    expect(m.parseError).toBeNull();
    expect(m.subject).toBe('Folded   subject\t garbage ✓');
    expect(m.from).toEqual({ email: 'alice@example.com', name: '' });
    expect(m.date).toBeNull();
    expect(m.messageId).toBe('no-brackets@example.com');
    expect(Object.keys(m.headers)).toEqual(['Subject', 'X-Weird', 'From', 'Date', 'Message-ID']);
    expect(m.bodyText).toBe('body\n');
  });

  it('more than 1,000 MIME parts → EMAXLEN parseError, headers still read', async () => {
    const raw = F.tooManyParts();
    const m = await parse(raw);
    await expectStoredRaw(raw, m);
    expect(m.parseError).toMatch(/^EMAXLEN/);
    expect(m.subject).toBe('Too many parts');
    expect(m.messageId).toBe('fixture-1@example.com');
    expect(m.date).toEqual(new Date(F.DATE_ISO));
  });

  it('a header over 1 MiB → EMAXLEN parseError, headers read (value capped at 64 KiB)', async () => {
    const raw = F.hugeHeader();
    const m = await parse(raw);
    await expectStoredRaw(raw, m);
    expect(m.parseError).toMatch(/^EMAXLEN/);
    expect(m.subject).toBe('Huge header');
    expect(m.from?.email).toBe('alice@example.com');
    expect(m.headers['X-Huge']).toHaveLength(64 * 1024);
  });

  it('hostile attachment names are sanitised, the raw decoded name is kept apart', async () => {
    const m = await parse(F.hostileFilenames());
    expect(m.parseError).toBeNull();
    expect(m.attachments.map((a) => a.filename)).toEqual(F.HOSTILE_FILENAMES.map((h) => h.expected));
    expect(m.attachments.map((a) => a.originalFilename)).toEqual(F.HOSTILE_FILENAMES.map((h) => h.original));
    for (const a of m.attachments) expect(a.filename).not.toMatch(/[/\\\u0000-\u001f\u202e]/);
  });

  it('oversize message: raw stored, headers only, no bodies or attachments, no parseError', async () => {
    const raw = F.withAttachments([50_000]);
    const m = await parse(raw, 10_000);
    await expectStoredRaw(raw, m);
    expect(m).toMatchObject({ subject: 'Attachments', bodyText: null, bodyHtml: null, attachments: [], parseError: null });
    expect(m.from?.email).toBe('alice@example.com');
  });

  it('truncated and bit-flipped variants of every fixture resolve (fuzz)', async () => {
    const fixtures = [F.plainText(), F.htmlAlternative(), F.withAttachments([3000]), F.inlineImage(), F.nestedMessage(), F.tnef(), F.hostileFilenames(), ...F.CHARSET_SAMPLES.map((s) => F.charsetMessage(s))];
    const rnd = F.prng(42);
    for (const raw of fixtures) {
      for (let i = 0; i < 8; i++) {
        const variant = Buffer.from(raw.subarray(0, Math.floor(rnd() * raw.length)));
        for (let k = 0; k < 5; k++) variant[Math.floor(rnd() * variant.length)] = Math.floor(rnd() * 256);
        const m = await parse(variant);
        expect(m.rawBlobKey).toBe(F.sha256(variant));
      }
    }
  });

  it('long References are de-duplicated and capped (root + most recent)', async () => {
    const ids = Array.from({ length: 500 }, (_, i) => `<r${i}@x>`);
    const m = await parse(F.plainText('x\n', { References: [...ids, ids[3]].join(' ') }));
    expect(m.references).toHaveLength(200);
    expect(m.references[0]).toBe('r0@x');
    expect(m.references.at(-1)).toBe('r499@x');
  });
});

describe('parseMessage: store failures', () => {
  it('rejects when the blob store cannot write (an I/O fault, not the message’s)', async () => {
    const file = path.join(dir, 'not-a-directory');
    await writeFile(file, 'x');
    await expect(parseMessage(F.plainText(), new BlobStore(file), { maxBytes: MAX })).rejects.toThrow();
  });
});

describe('generateMailbox', () => {
  it('is deterministic and realistic: mostly < 10 KB, ~10% with 20 KB–2 MB attachments, unique identities', async () => {
    const box = F.generateMailbox(500, 7);
    expect(F.generateMailbox(20, 7).every((b, i) => b.equals(box[i]!))).toBe(true);
    const sizes = box.map((b) => b.length);
    expect(sizes.filter((s) => s < 10 * 1024).length / box.length).toBeGreaterThan(0.8);
    const large = sizes.filter((s) => s >= 20_000).length / box.length;
    expect(large).toBeGreaterThan(0.05);
    expect(large).toBeLessThan(0.15);
    expect(new Set(box.map(headerHash)).size).toBe(box.length);
    for (const raw of box.slice(0, 40)) expect((await parse(raw)).parseError).toBeNull();
  });
});

describe('parseMessage: edge shapes', () => {
  it('header-only message (no empty line, no body): fields read, no bodies, no error', async () => {
    const raw = F.headerOnly();
    const m = await parse(raw);
    await expectStoredRaw(raw, m);
    expect(m).toMatchObject({ messageId: 'header-only@example.com', subject: 'Headers only', from: { email: 'alice@example.com', name: 'Alice' }, to: [{ email: 'bob@example.com', name: '' }], bodyText: null, bodyHtml: null, attachments: [], parseError: null });
    expect(m.date).toEqual(new Date(F.DATE_ISO));
    expect(Object.keys(m.headers)).toEqual(['From', 'To', 'Subject', 'Date', 'Message-ID']);
  });

  it('message starting with the empty line: no headers, the body line that looks like one stays body', async () => {
    const raw = F.bodyOnly();
    const m = await parse(raw);
    await expectStoredRaw(raw, m);
    expect(m.headers).toEqual({});
    expect(m.subject).toBeNull();
    expect(m.bodyText).toBe('Note: this looks like a header but is body text\nSecond line\n');
    // The same digest as Dovecot's BODY[HEADER] of this message, which is a lone CRLF.
    expect(m.headerHash).toBe(headerHash(Buffer.from('\r\n')));
    expect(m.headerHash).toBe(F.sha256(Buffer.alloc(0)));
  });

  it('headerHash of a full source equals that of its BODY[HEADER] (CRLF, bare LF, no body)', () => {
    for (const raw of [F.plainText(), F.htmlAlternative(), F.headerOnly(), F.bodyOnly(), Buffer.from('Subject: lf\n\nbody\n')]) {
      const end = raw.indexOf('\r\n\r\n') !== -1 ? raw.indexOf('\r\n\r\n') + 4 : raw.indexOf('\n\n') !== -1 ? raw.indexOf('\n\n') + 2 : raw.length;
      const header = raw[0] === 0x0d ? raw.subarray(0, 2) : raw.subarray(0, end);
      expect(headerHash(raw)).toBe(headerHash(header));
    }
  });

  it('a boundary that only appears inside a line or as a closing delimiter: body kept as text, parseError', async () => {
    const m = await parse(F.boundaryNeverOpens());
    expect(m.subject).toBe('Boundary never opens');
    expect(m.bodyText).toBe('Text that mentions --SEP inside a line.\n--SEP--\n');
    expect(m.parseError).toMatch(/boundary "SEP" never appears as a delimiter line/);
  });

  it('a delimiter line with trailing whitespace still counts (as mailsplit reads it)', async () => {
    const raw = F.message({ headers: ['Content-Type: multipart/mixed; boundary="WS"'], body: Buffer.from('--WS  \r\nContent-Type: text/plain\r\n\r\nwhitespace delimiter\r\n--WS--\r\n') });
    const m = await parse(raw);
    expect(m.parseError).toBeNull();
    expect(m.bodyText).toBe('whitespace delimiter');
  });

  it('lone UTF-16 surrogates never reach the result (PostgreSQL jsonb rejects \\ud800)', async () => {
    const m = await parse(F.loneSurrogates());
    expect(JSON.stringify(m)).not.toMatch(/\\ud[89a-f][0-9a-f]{2}/i);
    expect(m.subject).toBe('\ufffd tail');
    expect(m.from).toEqual({ email: 'odd@example.com', name: '\ufffd' });
    expect(m.to).toEqual([{ email: 'half@example.com', name: '\ufffd' }]);
    expect(m.headers['X-Odd']).toBe('\ufffd');
    // Capped at 64 Ki UTF-16 units, which cuts the last emoji in half.
    expect(m.headers['X-Long']).toHaveLength(64 * 1024);
    expect(m.headers['X-Long']!.endsWith('😀\ufffd')).toBe(true);
    expect(m.parseError).toBeNull();
  });

  it('every fixture resolves with the raw source stored and no lone surrogate', async () => {
    const all = [F.plainText(), F.htmlAlternative(), F.withAttachments([10, 20_000]), F.inlineImage(), F.nestedMessage(), F.tnef(), F.unclosedBoundary(), F.missingBoundary(),
      F.boundaryNeverOpens(), F.unknownCharset(), F.raw8bitHeaders('utf8'), F.raw8bitHeaders('latin1'), ...F.CHARSET_SAMPLES.map((s) => F.charsetMessage(s)), F.malformedHeaders(),
      F.tooManyParts(), F.hugeHeader(), F.hostileFilenames(), F.missingIdAndDate(), F.multipleFrom(), F.emptyMessage(), F.headerOnly(), F.bodyOnly(), F.loneSurrogates()];
    for (const raw of all) {
      const m = await parse(raw);
      expect(m.rawBlobKey).toBe(F.sha256(raw));
      expect(m.size).toBe(raw.length);
      expect(JSON.stringify(m)).not.toMatch(/\\ud[89a-f][0-9a-f]{2}/i);
      for (const a of m.attachments) expect(await store.stat(a.blobKey)).toEqual({ size: a.size });
    }
  });

  it('a generated mailbox threads: replies carry In-Reply-To/References to earlier messages and a Re: subject', async () => {
    const box = F.generateMailbox(200, 11);
    const parsed = await Promise.all(box.map((raw) => parse(raw)));
    const ids = new Set(parsed.map((m) => m.messageId));
    expect(ids.size).toBe(box.length);
    const replies = parsed.filter((m) => m.inReplyTo !== null);
    expect(replies.length / box.length).toBeGreaterThan(0.15);
    for (const r of replies) {
      expect(ids.has(r.inReplyTo)).toBe(true);
      expect(r.references.at(-1)).toBe(r.inReplyTo);
      expect(r.subject).toMatch(/^Re: /);
    }
    expect(new Set(parsed.map((m) => m.from?.email)).size).toBeGreaterThan(20);
    expect(parsed.some((m) => /[^\x00-\x7f]/.test(m.from?.name ?? ''))).toBe(true); // encoded-word display names decoded
  });
});
