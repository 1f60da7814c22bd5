/**
 * The base64 fast path (base64-fast-path.ts) against the plain path: every message is parsed both ways and the results
 * must be identical — attachments (order, names, types, inline/cid, sizes, blob keys and content), bodies, headers and
 * parseError. Each hand-built case also states which path it must take, read from the blob store calls: the fast path
 * stores a replaced part with writeBuffer (no stream), and a fallback parses twice.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { MailParser, type AttachmentStream } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { FAST_PATH_MIN_BYTES, FastPathTracker, prepareFastPath, type FastSource } from '../../src/sync/ingest/base64-fast-path.js';
import { bodyStart, readFields } from '../../src/sync/ingest/parse-headers.js';
import { headerBlock } from '../../src/shared/header-hash.js';
import { parseMessage, type ParsedMessage } from '../../src/sync/ingest/parse-message.js';
import * as F from '../fixtures/messages.js';
import { useTempBlobStore } from '../support/blob-store.js';

const env = useTempBlobStore('fast-path-');
const MAX = 50 * 1024 * 1024;

/** What one parse asked of the store. */
async function counted(run: () => Promise<ParsedMessage>): Promise<{ m: ParsedMessage; streams: number; buffers: number }> {
  const { store } = env;
  const [writeStream, writeBuffer] = [store.writeStream, store.writeBuffer];
  const calls = { streams: 0, buffers: 0 };
  store.writeStream = (s: Readable) => (calls.streams++, writeStream.call(store, s));
  store.writeBuffer = (b: Buffer) => (calls.buffers++, writeBuffer.call(store, b));
  try {
    return { m: await run(), ...calls };
  } finally {
    delete (store as Partial<typeof store>).writeStream;
    delete (store as Partial<typeof store>).writeBuffer;
  }
}

type Path = 'fast' | 'fallback' | 'plain';

/** Parses `raw` both ways, expects identical results and blobs whose content is their key; returns the path taken. */
async function both(raw: Buffer): Promise<{ path: Path; m: ParsedMessage }> {
  const plain = await counted(() => parseMessage(raw, env.store, { maxBytes: MAX, base64FastPath: false }));
  const fast = await counted(() => parseMessage(raw, env.store, { maxBytes: MAX }));
  expect(fast.m).toEqual(plain.m);
  for (const a of fast.m.attachments) {
    const content = await readFile(env.store.path(a.blobKey));
    expect([content.length, createHash('sha256').update(content).digest('hex')]).toEqual([a.size, a.blobKey]);
  }
  const path: Path = fast.streams < plain.streams ? 'fast' : fast.buffers > plain.buffers ? 'fallback' : 'plain';
  return { path, m: fast.m };
}

const BIG = F.bytes(40_000, 7);
const BIG2 = F.bytes(70_001, 8);
/** base64 of `b` in lines of `width`, each ended by `eol`. */
const b64 = (b: Buffer, width = 76, eol = '\r\n'): string => `${(b.toString('base64').match(new RegExp(`.{1,${width}}`, 'g')) ?? []).join(eol)}${eol}`;
const HEAD = 'From: a@example.com\nTo: b@example.com\nSubject: fast path\nDate: Tue, 04 Mar 2025 10:15:30 +0100\nMessage-ID: <fp@example.com>\nMIME-Version: 1.0\n';
/** A message from latin1 text: `\n` outside base64 bodies becomes CRLF unless `lf`. */
const msg = (text: string, lf = false): Buffer => Buffer.from(lf ? text : text.replace(/\r?\n/g, '\r\n'), 'latin1');
const att = (body: string, type = 'application/pdf', extra = 'Content-Disposition: attachment; filename="a.pdf"\n'): string =>
  `Content-Type: ${type}\nContent-Transfer-Encoding: base64\n${extra}\n${body}`;
const mixed = (parts: string[], boundary = 'B', tail = `--${boundary}--\n`): string =>
  `${HEAD}Content-Type: multipart/mixed; boundary="${boundary}"\n\n${parts.map((p) => `--${boundary}\n${p}`).join('')}${tail}`;
const TEXT = 'Content-Type: text/plain; charset=utf-8\n\nHello\n';
/** base64 lines with one line changed by `edit` (the middle one). */
const edited = (b: Buffer, edit: (line: string) => string): string => {
  const lines = b64(b).split('\r\n');
  const mid = lines.length >> 1;
  lines[mid] = edit(lines[mid]!);
  return lines.join('\r\n');
};

const CASES: { name: string; raw: () => Buffer; path: Path }[] = [
  { name: 'CRLF, one attachment', raw: () => msg(mixed([TEXT, att(b64(BIG))])), path: 'fast' },
  { name: 'LF line ends throughout', raw: () => msg(mixed([TEXT, att(b64(BIG, 76, '\n'))]), true), path: 'fast' },
  { name: 'CRLF message, LF base64 lines', raw: () => Buffer.concat([msg(mixed([TEXT, att('')], 'B', '')), Buffer.from(b64(BIG, 76, '\n')), msg('--B--\n')]), path: 'fast' },
  { name: 'blanks after the delimiters', raw: () => msg(mixed([TEXT, att(b64(BIG))]).replace(/^--B$/gm, '--B  \t').replace('--B--', '--B-- ')), path: 'fast' },
  { name: 'a run of CRs before a delimiter line break', raw: () => msg(mixed([TEXT, att(b64(BIG))]).replaceAll('\n--B\n', '\n--B\r\r\n')), path: 'fast' },
  { name: 'no closing delimiter, attachment last', raw: () => msg(mixed([TEXT, att(b64(BIG))], 'B', '')), path: 'fast' },
  { name: 'no closing delimiter nor final line break', raw: () => msg(mixed([TEXT, att(b64(BIG).trimEnd())], 'B', '')), path: 'plain' },
  { name: 'a bad character in the middle', raw: () => msg(mixed([TEXT, att(edited(BIG, (l) => `${l.slice(0, 10)}*${l.slice(10)}`))])), path: 'plain' },
  { name: 'a dash in the middle', raw: () => msg(mixed([TEXT, att(edited(BIG, (l) => `${l.slice(0, 10)}-${l.slice(11)}`))])), path: 'plain' },
  { name: 'an 8-bit byte in the middle', raw: () => msg(mixed([TEXT, att(edited(BIG, (l) => `${l.slice(0, 10)}\xe9${l.slice(11)}`))])), path: 'plain' },
  { name: 'padding in the middle', raw: () => msg(mixed([TEXT, att(edited(BIG, () => 'QQ=='))])), path: 'plain' },
  { name: 'one character too many (length % 4 = 1)', raw: () => msg(mixed([TEXT, att(edited(BIG, (l) => `${l}\r\nA`))])), path: 'plain' },
  { name: 'unpadded', raw: () => msg(mixed([TEXT, att(b64(F.bytes(40_001, 3)).replaceAll('=', ''))])), path: 'fast' },
  { name: 'padding bits not zero', raw: () => msg(mixed([TEXT, att(b64(F.bytes(40_000, 3)).replace(/.==/, 'R=='))])), path: 'fast' },
  { name: 'blank lines and trailing blanks inside', raw: () => msg(mixed([TEXT, att(edited(BIG, (l) => `${l}  \r\n\r\n\t`))])), path: 'fast' },
  { name: 'padding on a line of its own, 75-character lines', raw: () => msg(mixed([TEXT, att(b64(F.bytes(40_000, 5), 75).replace(/(=+)\r\n$/, '\r\n$1\r\n'))])), path: 'fast' },
  { name: 'one line of 200 KB, no line breaks', raw: () => msg(mixed([TEXT, att(`${F.bytes(150_000, 4).toString('base64')}\r\n`)])), path: 'fast' },
  { name: 'the boundary inside a preamble line', raw: () => msg(mixed([TEXT, att(b64(BIG))]).replace('\n\n--B\n', '\n\nThis mentions --B inside a line.\n--B\n')), path: 'fast' },
  { name: 'a closing delimiter in the preamble', raw: () => msg(mixed([TEXT, att(b64(BIG))]).replace('\n\n--B\n', '\n\n--B--\n--B\n')), path: 'plain' },
  { name: 'a lone CR before a delimiter', raw: () => msg(mixed([TEXT, att(b64(BIG))]).replace('\n\n--B\n', '\n\n\r--B\n--B\n'), true), path: 'plain' },
  { name: 'a delimiter in the epilogue', raw: () => msg(mixed([TEXT, att(b64(BIG))], 'B', `--B--\nepilogue\n--B\n${att(b64(BIG2))}`)), path: 'fast' },
  { name: 'empty body part and one just under the size', raw: () => msg(mixed([TEXT, att(''), att(b64(F.bytes(FAST_PATH_MIN_BYTES * 0.75 - 600, 2)))])), path: 'plain' },
  { name: 'duplicate boundaries (inner = outer)', raw: () => msg(mixed([TEXT, `Content-Type: multipart/related; boundary="B"\n\n--B\n${att(b64(BIG))}--B--\n`])), path: 'plain' },
  { name: 'quoted "base64"', raw: () => msg(mixed([TEXT, att(b64(BIG)).replace('base64', '"base64"')])), path: 'plain' },
  { name: 'base64 (comment)', raw: () => msg(mixed([TEXT, att(b64(BIG)).replace('base64', 'base64 (comment)')])), path: 'plain' },
  { name: 'two encodings, quoted-printable first', raw: () => msg(mixed([TEXT, att(b64(BIG), 'application/pdf', 'Content-Transfer-Encoding: quoted-printable\n').replace(/(Content-Transfer-Encoding: base64\n)(Content-Transfer-Encoding: quoted-printable\n)/, '$2$1')])), path: 'plain' },
  { name: 'two encodings, base64 first', raw: () => msg(mixed([TEXT, att(b64(BIG), 'application/pdf', 'Content-Transfer-Encoding: quoted-printable\n')])), path: 'fast' },
  { name: 'two Content-Types, text first', raw: () => msg(mixed([TEXT, att(b64(BIG), 'text/plain', 'Content-Type: image/png\n')])), path: 'plain' },
  { name: 'base64 text/plain', raw: () => msg(mixed([TEXT, att(b64(BIG), 'text/plain; charset=utf-8', '')])), path: 'plain' },
  { name: 'a type without subtype', raw: () => msg(mixed([TEXT, att(b64(BIG), 'image', '')])), path: 'plain' },
  { name: 'root part is the attachment', raw: () => msg(`${HEAD}${att(b64(BIG))}`), path: 'plain' },
  { name: 'the same content twice, a 36-byte attachment between', raw: () => msg(mixed([TEXT, att(b64(BIG)), att(b64(F.bytes(36, 1))), att(b64(BIG), 'image/png', 'Content-ID: <x@y>\n')])), path: 'fast' },
  {
    name: 'nested: mixed > alternative + related (html, cid image) + attachment',
    raw: () =>
      msg(mixed([
        `Content-Type: multipart/related; boundary="R"\n\n--R\nContent-Type: multipart/alternative; boundary="A"\n\n--A\n${TEXT}--A\nContent-Type: text/html\n\n<img src="cid:img@x">\n--A--\n--R\n${att(b64(BIG2), 'image/jpeg', 'Content-ID: <img@x>\nContent-Disposition: inline\n')}--R--\n`,
        att(b64(BIG), 'application/octet-stream', 'Content-Disposition: attachment; filename="=?UTF-8?Q?r=C3=A9sum=C3=A9.pdf?="\n'),
      ])),
    path: 'fast',
  },
  { name: 'inner multipart never closed, outer continues', raw: () => msg(mixed([`Content-Type: multipart/related; boundary="R"\n\n--R\n${att(b64(BIG2), 'image/png', '')}`, att(b64(BIG))])), path: 'fast' },
  { name: 'message/rfc822 holding a large attachment', raw: () => msg(mixed([TEXT, `Content-Type: message/rfc822\n\n${mixed([TEXT, att(b64(BIG2))], 'INNER')}`, att(b64(BIG))])), path: 'fast' },
  { name: 'uuencoded part beside it', raw: () => {
      const uu = F.uuencodedPart('u.bin', F.bytes(500, 6));
      return Buffer.concat([uu.subarray(0, uu.lastIndexOf('--UU-1--')), msg(`--UU-1\n${att(b64(BIG))}--UU-1--\n`)]);
    },
    path: 'fast' },
  { name: 'unlabelled latin-1 text (second pass) and an attachment', raw: () => msg(mixed(['Content-Type: text/plain\n\nCaf\xe9 cr\xe8me\n', att(b64(BIG))])), path: 'fast' },
  { name: 'a header over 1 MiB after it (EMAXLEN)', raw: () => msg(mixed([att(b64(BIG)), `Content-Type: text/plain\nX-Huge: ${'x'.repeat(1024 * 1024 + 10)}\n\nbody\n`])), path: 'fallback' },
  { name: 'more parts than the scan takes', raw: () => msg(mixed([att(b64(BIG)), ...Array.from({ length: 600 }, () => TEXT)])), path: 'plain' },
];

describe('base64 fast path: identical to the plain path', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      expect((await both(c.raw())).path).toBe(c.path);
    });
  }

  it('the bytes it stores are the attachment', async () => {
    const { m } = await both(msg(mixed([TEXT, att(b64(BIG)), att(b64(BIG2), 'image/png', 'Content-ID: <i@x>\n')])));
    expect(m.attachments.map((a) => [a.size, a.blobKey, a.filename, a.mimeType, a.contentId])).toEqual([
      [BIG.length, F.sha256(BIG), 'a.pdf', 'application/pdf', null],
      [BIG2.length, F.sha256(BIG2), 'attachment-2.png', 'image/png', 'i@x'],
    ]);
  });

  it('a generated mailbox and every fixture', async () => {
    const fixtures = [
      F.plainText(), F.htmlAlternative(), F.withAttachments([40_000, 100, 20_000, 300_000]), F.inlineImage(), F.nestedMessage(), F.tnef(),
      F.unclosedBoundary(), F.missingBoundary(), F.unknownCharset(), F.raw8bitHeaders('utf8'), F.raw8bitHeaders('latin1'),
      ...F.CHARSET_SAMPLES.map((s) => F.charsetMessage(s)), F.malformedHeaders(), F.tooManyParts(), F.hugeHeader(), F.hostileFilenames(),
      F.missingIdAndDate(), F.multipleFrom(), F.emptyMessage(), F.headerOnly(), F.bodyOnly(), F.boundaryNeverOpens(), F.loneSurrogates(),
      F.uuencodedInBody([{ name: 'a.bin', data: F.bytes(3000, 2) }]), F.uuencodedPart('b.bin', F.bytes(30_000, 3)),
    ];
    const paths: Path[] = [];
    for (const raw of [...fixtures, ...F.generateMailbox(400, 3)]) paths.push((await both(raw)).path);
    expect(paths.filter((p) => p === 'fast').length).toBeGreaterThan(30);
  }, 120_000);

  it('mutated messages (fuzz)', async () => {
    const rnd = F.prng(42);
    const base = msg(mixed([TEXT, `Content-Type: multipart/related; boundary="R"\n\n--R\n${att(b64(BIG2), 'image/png', 'Content-ID: <p@x>\n')}--R--\n`, att(b64(BIG))]));
    const inserts = ['--B', '--B--', '--R', '--R--', '--B  ', '\r--B', '-', '=', 'QQ==', 'Content-Type: text/plain', '', ' ', 'Content-Transfer-Encoding: 7bit', 'A', '\xff'];
    const paths: Path[] = [];
    for (let n = 0; n < 150; n++) {
      const lines = base.toString('latin1').split('\n');
      for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
        const at = Math.floor(rnd() * lines.length);
        const op = rnd();
        if (op < 0.45) lines.splice(at, 0, `${inserts[Math.floor(rnd() * inserts.length)]}\r`);
        else if (op < 0.7) lines.splice(at, 1);
        else if (op < 0.85) lines[at] = lines[at]!.replace(/\r$/, '');
        else lines.splice(at);
      }
      paths.push((await both(Buffer.from(lines.join('\n'), 'latin1'))).path);
    }
    // The mutations leave most messages on the fast path, and some must fall back or stay plain.
    expect(paths.filter((p) => p === 'fast').length).toBeGreaterThan(50);
    expect(paths.filter((p) => p !== 'fast').length).toBeGreaterThan(10);
  }, 120_000);
});

/** Parses a (tampered) fast source as parse-message.ts does and asks the tracker whether it verifies. */
async function verifies(source: FastSource): Promise<boolean> {
  const parser = new MailParser({ ignoreEmbedded: true, skipTextToHtml: true, checksumAlgo: false });
  const tracker = new FastPathTracker(source);
  tracker.attach(parser);
  const claims: Promise<unknown>[] = [];
  parser.on('data', (d: AttachmentStream | { type: 'text' }) => {
    if (d.type !== 'attachment') return;
    claims.push(
      tracker
        .claim(d.content)
        .then(async (r) => r instanceof Readable && (await r.toArray()))
        .finally(() => d.release?.()),
    );
  });
  await new Promise((resolve, reject) => parser.on('end', resolve).on('error', reject).end(source.raw));
  await Promise.all(claims);
  return tracker.verified();
}

describe('base64 fast path: the verification', () => {
  const raw = msg(mixed([TEXT, att(b64(BIG)), att(b64(BIG2), 'image/png', '')]));
  const prepared = async (): Promise<FastSource> => (await prepareFastPath(raw, bodyStart(raw), readFields(headerBlock(raw)), env.store))!;
  /** The prepared source with its text changed by `edit` (latin1). */
  const tampered = async (edit: (text: string, lines: string[]) => string): Promise<FastSource> => {
    const source = await prepared();
    return { ...source, raw: Buffer.from(edit(source.raw.toString('latin1'), source.parts.map((p) => p.line)), 'latin1') };
  };

  it('holds for the source as prepared', async () => {
    const source = await prepared();
    expect(source.parts).toHaveLength(2);
    expect(source.raw.length).toBeLessThan(2000);
    expect(await verifies(source)).toBe(true);
  });

  const TAMPERED: [string, (text: string, lines: string[]) => string][] = [
    ['a base64 line after a placeholder', (t, [a]) => t.replace(a!, `${a}QUJD\r\n`)],
    ['a padding line before a placeholder', (t, [a]) => t.replace(a!, `=\r\n${a}`)],
    ['a placeholder moved into the text part', (t, [a]) => t.replace(a!, '').replace('Hello\r\n', `Hello\r\n${a}`)],
    ['a placeholder in the preamble', (t, [a]) => t.replace(a!, '').replace('\r\n\r\n--B', `\r\n\r\n${a}--B`)],
    ['a part no longer base64', (t) => t.replace('Content-Transfer-Encoding: base64', 'Content-Transfer-Encoding: 7bit')],
    ['a part now body text', (t) => t.replace('Content-Disposition: attachment; filename="a.pdf"\r\n', '').replace('application/pdf', 'text/plain')],
    ['a placeholder twice', (t, [a, b]) => t.replace(b!, a!)],
  ];
  for (const [name, edit] of TAMPERED) {
    it(`fails for ${name}`, async () => {
      expect(await verifies(await tampered(edit))).toBe(false);
    });
  }
});
