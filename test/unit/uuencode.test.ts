/**
 * uuencoded files: the decoder against a reference encoder (every line length, both zero characters, trailing spaces
 * lost in transit), what is not a block, and parseMessage turning blocks in a text body or an x-uuencode part into
 * attachments.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/sync/ingest/parse-message.js';
import { findUuBlocks, isUuencodeEncoding, withoutBlocks } from '../../src/sync/ingest/uuencode.js';
import { mimeTypeFor } from '../../src/shared/filenames.js';
import * as F from '../fixtures/messages.js';
import { useTempBlobStore } from '../support/blob-store.js';

const blobs = useTempBlobStore('uuencode-');

describe('findUuBlocks', () => {
  it('decodes what uuencode wrote, for every length around the 45-byte line and with either zero character', () => {
    for (const size of [0, 1, 2, 3, 44, 45, 46, 89, 90, 91, 1000, 4096]) {
      for (const zero of ['`', ' ']) {
        const data = F.bytes(size, size + 1);
        const text = `intro\n${F.uuencode('f.bin', data, zero)}outro\n`;
        const [block, ...rest] = findUuBlocks(text, 1e6);
        expect(rest, `${size} ${JSON.stringify(zero)}`).toEqual([]);
        expect(block!.name).toBe('f.bin');
        expect(block!.data.equals(data), `${size} ${JSON.stringify(zero)}`).toBe(true);
        expect(withoutBlocks(text, [block!])).toBe('intro\noutro\n');
      }
    }
  });

  it('copes with trailing spaces stripped in transit and with CRLF lines', () => {
    const data = Buffer.alloc(100); // all zeros: space-encoded lines end in spaces
    data[0] = 7;
    const stripped = F.uuencode('z.bin', data, ' ').replace(/ +\n/g, '\n').replace(/\n/g, '\r\n');
    const [block] = findUuBlocks(stripped, 1e6);
    expect(block!.data.equals(data)).toBe(true);
  });

  it('leaves text alone: no end line, characters outside the alphabet, a mere mention, over the byte budget', () => {
    const good = F.uuencode('a.txt', Buffer.from('hello world, this is a file\n'));
    expect(findUuBlocks(good.replace('end\n', ''), 1e6)).toEqual([]);
    expect(findUuBlocks(good.replace(/^(begin .*\n).*$/m, '$1<lowercase letters are not uuencode'), 1e6)).toEqual([]);
    expect(findUuBlocks('Please begin 644 now and end\n', 1e6)).toEqual([]);
    expect(findUuBlocks('begin 644 report.txt\nthe report is attached\nend\n', 1e6)).toEqual([]);
    expect(findUuBlocks(good, 10)).toEqual([]);
    expect(findUuBlocks(good, 1e6)).toHaveLength(1);
  });

  it('reads begin lines in linear time: 120,000 spaces inside the name (the lazy name retried the blanks after it)', () => {
    const data = Buffer.from('hello\n');
    const name = `my${' '.repeat(120_000)}file.txt`;
    // About 40 s each with the old begin-line regex (the test timed out), in the parser worker.
    const [block] = findUuBlocks(F.uuencode(name, data).replace('\n', ' \t \r\n'), 1e6);
    expect(block!.name).toBe(name);
    expect(block!.data.equals(data)).toBe(true);
    expect(findUuBlocks(`begin 644 a${' '.repeat(120_000)}b\nnot uuencode\n`, 1e6)).toEqual([]);
  });

  it('recognises the transfer encodings that mean uuencode', () => {
    for (const cte of ['x-uuencode', 'uuencode', 'X-UUE', ' x-uue ', 'uuencoded']) expect(isUuencodeEncoding(cte), cte).toBe(true);
    for (const cte of ['base64', 'quoted-printable', '7bit', undefined, 'x-uuencode2']) expect(isUuencodeEncoding(cte), String(cte)).toBe(false);
  });

  it('mimeTypeFor: the type of a known extension, octet-stream otherwise', () => {
    expect(mimeTypeFor('Report.PDF')).toBe('application/pdf');
    expect(mimeTypeFor('photo.jpg')).toBe('image/jpeg');
    expect(mimeTypeFor('archive.unknownext')).toBe('application/octet-stream');
    expect(mimeTypeFor('noextension')).toBe('application/octet-stream');
  });
});

describe('parseMessage: uuencoded files', () => {
  it('files inside a text body become attachments and leave the body text', async () => {
    const pdf = F.bytes(5000, 3);
    const notes = Buffer.from('line one\nline two\n');
    const m = await parseMessage(F.uuencodedInBody([{ name: 'report.pdf', data: pdf }, { name: '../../etc/notes.txt', data: notes }]), blobs.store, { maxBytes: 1e7 });
    expect(m.parseError).toBeNull();
    expect(m.attachments.map((a) => [a.filename, a.originalFilename, a.mimeType, a.size, a.isInline])).toEqual([
      ['report.pdf', 'report.pdf', 'application/pdf', 5000, false],
      ['notes.txt', '../../etc/notes.txt', 'text/plain', notes.length, false],
    ]);
    expect((await readFile(blobs.store.path(m.attachments[0]!.blobKey))).equals(pdf)).toBe(true);
    expect((await readFile(blobs.store.path(m.attachments[1]!.blobKey))).equals(notes)).toBe(true);
    expect(m.bodyText).toContain('here are the files.');
    expect(m.bodyText).toContain('Regards,\nAlice');
    expect(m.bodyText).not.toMatch(/^begin |^M/m);
  });

  it('a part with Content-Transfer-Encoding x-uuencode is stored decoded', async () => {
    const data = F.bytes(3000, 8);
    const m = await parseMessage(F.uuencodedPart('data.bin', data), blobs.store, { maxBytes: 1e7 });
    expect(m.attachments).toHaveLength(1);
    expect(m.attachments[0]).toMatchObject({ filename: 'data.bin', size: 3000 });
    expect((await readFile(blobs.store.path(m.attachments[0]!.blobKey))).equals(data)).toBe(true);
    expect(m.bodyText).toBe('See attached.\n');
  });
});
