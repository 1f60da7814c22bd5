/** Charsets: declared ones (legacy included), unknown ones, raw 8-bit headers, and unlabelled 8-bit text parts. */
import { describe, expect, it } from 'vitest';
import { parseMessage, type ParsedMessage } from '../../src/sync/ingest/parse-message.js';
import * as F from '../fixtures/messages.js';
import { useTempBlobStore } from '../support/blob-store.js';

const blobs = useTempBlobStore('parse-charsets-');
const parse = (raw: Buffer): Promise<ParsedMessage> => parseMessage(raw, blobs.store, { maxBytes: 10 * 1024 * 1024 });
/** A message from latin1 text (each character one byte, so `\xe9` is the byte 0xE9), with CRLF line ends. */
const bytes = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1');

describe('parseMessage: charsets', () => {
  it.each(F.CHARSET_SAMPLES.map((s) => [s.charset, s] as const))('%s body and encoded-word headers decode to Unicode', async (_name, sample) => {
    const m = await parse(F.charsetMessage(sample));
    expect(m.parseError).toBeNull();
    expect(m.bodyText?.trim()).toBe(sample.text);
    expect(m.subject).toBe(sample.charset === 'ISO-2022-JP' ? F.ISO2022JP_SUBJECT.text : sample.text);
    expect(m.from).toEqual({ email: 'sender@example.com', name: sample.text });
    expect(m.headers.From).toBe(`${sample.text} <sender@example.com>`);
  });

  it('unknown charset: no error, ASCII intact', async () => {
    const m = await parse(F.unknownCharset());
    expect(m.parseError).toBeNull();
    expect(m.subject).toBe('Unknown charset');
    expect(m.bodyText).toBe('Plain ASCII in an unknown charset\n');
  });

  it.each([
    ['unicode', 'utf16le', '\ufeff'],
    ['Unicode', 'utf16le', ''],
    ['unicodeFFFE', 'utf16be', '\ufeff'],
  ] as const)('charset="%s" (Windows\' name for UTF-16) decodes as UTF-16, not as UTF-8 with NULs and U+FFFD', async (label, encoding, bom) => {
    const utf16 = (text: string) => {
      const le = Buffer.from(bom + text, 'utf16le');
      return (encoding === 'utf16le' ? le : Buffer.from(le).swap16()).toString('base64');
    };
    const m = await parse(
      bytes(
        `From: a@example.com\nSubject: u\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="B"\n\n--B\nContent-Type: text/plain; charset="${label}"\n` +
          `Content-Transfer-Encoding: base64\n\n${utf16('Héllo wörld, 日本')}\n--B\nContent-Type: text/html; charset=${label}\nContent-Transfer-Encoding: base64\n\n${utf16('<p>Héllo</p>')}\n--B--\n`,
      ),
    );
    expect(m.bodyText).toBe('Héllo wörld, 日本');
    expect(m.bodyHtml).toBe('<p>Héllo</p>');
  });

  it.each(['utf8', 'latin1'] as const)('raw 8-bit %s bytes in Subject/From decode', async (charset) => {
    const m = await parse(F.raw8bitHeaders(charset));
    expect(m.subject).toBe('Grüße aus Köln');
    expect(m.from).toEqual({ email: 'juergen@example.com', name: 'Jürgen Müller' });
    expect(m.headers.Subject).toBe('Grüße aus Köln');
    expect(m.bodyText).toBe('Body\n');
  });
});

describe('parseMessage: raw 8-bit headers in the charset of the message', () => {
  /** Bytes given in hex, as latin1 code units for `bytes`. */
  const hex = (h: string): string => Buffer.from(h, 'hex').toString('latin1');
  const KOI8R = { ivan: hex('e9d7c1ce20f0c5d4d2cfd7'), maria: hex('edc1d2c9d1'), subject: hex('f0d2c9d7c5d420c9da20edcfd3cbd7d9'), text: hex('f4c5cbd3d4') };

  it('raw KOI8-R Subject, From and To are read in the charset the message declares for its text (old Russian mailers)', async () => {
    const m = await parse(
      bytes(`From: ${KOI8R.ivan} <ivan@example.ru>\nTo: ${KOI8R.maria} <maria@example.ru>\nSubject: ${KOI8R.subject}\nMIME-Version: 1.0\n` +
        `Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: 8bit\n\n${KOI8R.text}\n`),
    );
    expect(m.subject).toBe('Привет из Москвы');
    expect(m.from).toEqual({ email: 'ivan@example.ru', name: 'Иван Петров' });
    expect(m.to).toEqual([{ email: 'maria@example.ru', name: 'Мария' }]);
    expect(m.headers.Subject).toBe('Привет из Москвы');
    expect(m.bodyText).toBe('Текст\n');
  });

  it('in a multipart message, the charset of its first text part', async () => {
    const m = await parse(
      bytes(`From: a@example.ru\nSubject: ${hex('d1f7b8f2')}\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n` +
        `--b\nContent-Type: text/plain;\n charset="windows-1251"\nContent-Transfer-Encoding: 8bit\n\n${hex('d2e5eaf1f2')}\n--b--\n`),
    );
    expect(m.subject).toBe('Счёт');
    expect(m.bodyText?.trim()).toBe('Текст');
  });

  it('raw ISO-2022-JP (7-bit escapes, no encoded word) in Subject and From is decoded', async () => {
    const m = await parse(bytes(`From: ${hex('1b24423b3345441b2842')} <yamada@example.jp>\nSubject: ${hex(F.ISO2022JP_SUBJECT.hex)}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-2022-JP\n\nbody\n`));
    expect(m.subject).toBe(F.ISO2022JP_SUBJECT.text);
    expect(m.from).toEqual({ email: 'yamada@example.jp', name: '山田' });
  });

  it('a declared charset that does not read ASCII as ASCII (UTF-16, UTF-32) is not used for raw header bytes', async () => {
    for (const charset of ['utf-16le', 'UTF-16', 'utf-32', 'ucs-2']) {
      const m = await parse(
        bytes(`From: J\xfcrgen <j@example.com>\nSubject: caf\xe9 ok\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n` +
          `--b\nContent-Type: text/plain; charset=${charset}\nContent-Transfer-Encoding: base64\n\nYwBhAGYA6QA=\n` +
          `--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="r\xe9sum\xe9.pdf"\nContent-Transfer-Encoding: base64\n\nAAEC\n--b--\n`),
      );
      expect([m.subject, m.from, m.headers.Subject, m.attachments[0]?.filename], charset).toEqual(['café ok', { email: 'j@example.com', name: 'Jürgen' }, 'café ok', 'résumé.pdf']);
    }
  });

  it('valid UTF-8 stays UTF-8, an unusable declared charset falls back as before, identities are read as before', async () => {
    const utf8 = Buffer.concat([Buffer.from('Subject: '), Buffer.from('Grüße'), bytes(`\nMessage-ID: <a\xe9@example.com>\nContent-Type: text/plain; charset=koi8-r\n\nbody\n`)]);
    const m = await parse(utf8);
    expect(m.subject).toBe('Grüße');
    expect(m.messageId).toBe('aé@example.com');
    const bogus = await parse(bytes(`Subject: caf\xe9\nContent-Type: text/plain; charset=x-no-such-charset\n\nbody\n`));
    expect(bogus.subject).toBe('café');
  });
});

describe('parseMessage: raw 8-bit attachment file names in the charset of the part or message', () => {
  const hex = (h: string): string => Buffer.from(h, 'hex').toString('latin1');
  /** A multipart message: a text part in `charset`, then a file whose part headers are `fileHeaders`. */
  const withFile = (charset: string, fileHeaders: string): Buffer =>
    bytes(`From: a@example.com\nSubject: files\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n` +
      `--b\nContent-Type: text/plain; charset=${charset}\nContent-Transfer-Encoding: 8bit\n\nbody\n` +
      `--b\n${fileHeaders}\nContent-Transfer-Encoding: base64\n\nAAEC\n--b--\n`);
  const names = async (raw: Buffer) => (await parse(raw)).attachments.map((a) => [a.filename, a.originalFilename, a.mimeType]);

  it('KOI8-R, windows-1251, Shift_JIS (a 0x5C trail byte) and ISO-8859-2 names are read in the charset the message declares', async () => {
    const koi8 = hex('f3dea3d4');
    expect(await names(withFile('koi8-r', `Content-Type: application/msword; name="${koi8}.doc"\nContent-Disposition: attachment; filename="${koi8}.doc"`)))
      .toEqual([['Счёт.doc', 'Счёт.doc', 'application/msword']]);
    expect(await names(withFile('windows-1251', `Content-Type: application/octet-stream; name="${hex('cef2f7b8f2')}.xls"`)))
      .toEqual([['Отчёт.xls', 'Отчёт.xls', 'application/vnd.ms-excel']]);
    expect(await names(withFile('shift_jis', `Content-Type: application/vnd.ms-excel\nContent-Disposition: attachment; filename="${hex('8e9197bf955c')}.xls"`)))
      .toEqual([['資料表.xls', '資料表.xls', 'application/vnd.ms-excel']]);
    expect(await names(withFile('shift_jis', `Content-Type: application/zip\nContent-Disposition: attachment; filename=${hex('835c83748367')}.zip`)))
      .toEqual([['ソフト.zip', 'ソフト.zip', 'application/zip']]);
    expect(await names(withFile('iso-8859-2', `Content-Type: application/pdf\nContent-Disposition: attachment; filename="${hex('bff3b377')}.pdf"`)))
      .toEqual([['żółw.pdf', 'żółw.pdf', 'application/pdf']]);
    // ISO-2022-JP in its 7-bit form (escapes, `ESC ( B` not a comment): read by its escapes, whatever is declared.
    expect(await names(withFile('us-ascii', `Content-Type: application/msword\nContent-Disposition: attachment; filename="${hex('1b24423b714e411b2842')}.doc"`)))
      .toEqual([['資料.doc', '資料.doc', 'application/msword']]);
  });

  it("the part's own charset comes first; without any, windows-1252 as for raw 8-bit headers", async () => {
    expect(await names(withFile('koi8-r', `Content-Type: text/plain; charset=windows-1251; name="${hex('cef2f7b8f2')}.txt"\nContent-Disposition: attachment`)))
      .toEqual([['Отчёт.txt', 'Отчёт.txt', 'text/plain']]);
    expect(await names(withFile('us-ascii', 'Content-Type: application/pdf\nContent-Disposition: attachment; filename="caf\xe9 \x80.pdf"')))
      .toEqual([['café €.pdf', 'café €.pdf', 'application/pdf']]);
  });

  it('the name is still sanitised; encoded, RFC 2231 and UTF-8 names are read as before', async () => {
    expect(await names(withFile('koi8-r', `Content-Type: application/msword\nContent-Disposition: attachment; filename="C:\\\\${hex('f3dea3d4')}.doc"`)))
      .toEqual([['Счёт.doc', 'C:\\Счёт.doc', 'application/msword']]);
    expect(await names(withFile('koi8-r', 'Content-Type: application/pdf\nContent-Disposition: attachment; filename="=?iso-8859-1?Q?caf=E9?=.pdf"')))
      .toEqual([['café.pdf', 'café.pdf', 'application/pdf']]);
    expect(await names(withFile('koi8-r', "Content-Type: application/pdf\nContent-Disposition: attachment; filename*=iso-8859-1''caf%E9.pdf")))
      .toEqual([['café.pdf', 'café.pdf', 'application/pdf']]);
    expect(await names(withFile('koi8-r', `Content-Type: application/pdf\nContent-Disposition: attachment; filename="${Buffer.from('café').toString('latin1')}.pdf"`)))
      .toEqual([['café.pdf', 'café.pdf', 'application/pdf']]);
  });
});

describe('parseMessage: text parts that declare no charset', () => {
  const head = 'From: a@example.com\nSubject: unlabelled\nMIME-Version: 1.0\n';

  it('8-bit Latin text without a charset decodes as windows-1252, not U+FFFD', async () => {
    const m = await parse(bytes(`${head}Content-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\nLa r\xe9union co\xfbte 5 \x80.\n`));
    expect(m.bodyText).toBe('La réunion coûte 5 €.\n');
  });

  it("an HTML part uses its <meta charset>", async () => {
    const html = `<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15"></head><body>\xa4 \xe9t\xe9</body></html>`;
    const m = await parse(bytes(`${head}Content-Type: text/html\nContent-Transfer-Encoding: 8bit\n\n${html}\n`));
    expect(m.bodyHtml).toContain('<body>€ été</body>');
    expect(m.bodyText).toContain('€ été');
  });

  it('looks for <meta charset> in linear time: 250 KB of blanks after a charset= without a value', async () => {
    // The old `\s*["']?\s*` backtracked quadratically over the blanks (about a minute: the test timed out).
    const html = `<html><head><meta charset=${' '.repeat(250_000)}><meta charset="iso-8859-15"></head><body>\xa4 \xe9t\xe9</body></html>`;
    const m = await parse(bytes(`${head}Content-Type: text/html\nContent-Transfer-Encoding: 8bit\n\n${html}\n`));
    expect(m.bodyHtml).toContain('<body>€ été</body>');
  });

  it('unlabelled text that is valid UTF-8 stays UTF-8', async () => {
    const utf8 = Buffer.concat([bytes(`${head}Content-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n`), Buffer.from('Grüße, 5 €\r\n')]);
    expect((await parse(utf8)).bodyText).toBe('Grüße, 5 €\n');
  });

  it('8-bit text labelled US-ASCII (which cannot describe it) is read as unlabelled: windows-1252, or UTF-8 when valid', async () => {
    for (const label of ['us-ascii', '"US-ASCII"', 'ascii', 'ANSI_X3.4-1968']) {
      const m = await parse(bytes(`${head}Content-Type: text/plain; charset=${label}\nContent-Transfer-Encoding: 8bit\n\nLa r\xe9union co\xfbte 5 \x80.\n`));
      expect(m.bodyText, label).toBe('La réunion coûte 5 €.\n');
    }
    const html = await parse(bytes(`${head}Content-Type: text/html; charset=us-ascii\nContent-Transfer-Encoding: 8bit\n\n<p>\x93caf\xe9\x94</p>\n`));
    expect(html.bodyHtml).toBe('<p>“café”</p>\n');
    // mailx/s-nail label with the locale's codeset: ANSI_X3.4-1968 under the C locale of a cron job, UTF-8 output.
    for (const label of ['us-ascii', 'ANSI_X3.4-1968', 'iso646-us', 'ascii']) {
      const utf8 = Buffer.concat([bytes(`${head}Content-Type: text/plain; charset=${label}\nContent-Transfer-Encoding: 8bit\n\n`), Buffer.from('Grüße – ✓\r\n')]);
      expect((await parse(utf8)).bodyText, label).toBe('Grüße – ✓\n');
    }
  });

  it('encoded words labelled with a US-ASCII alias are read as UTF-8 when their bytes are, else windows-1252', async () => {
    const subjects: [string, string][] = [
      ['=?ANSI_X3.4-1968?Q?Gr=C3=BC=C3=9Fe?=', 'Grüße'],
      ['=?ansi_x3.4-1968?B?R3LDvMOfZQ==?= von cron', 'Grüße von cron'],
      ['=?us-ascii?Q?Gr=C3=BC=C3=9Fe?=', 'Grüße'],
      ['=?US-ASCII?Q?caf=E9_=80?=', 'café €'],
      ['=?us-ascii?Q?plain?=', 'plain'],
    ];
    for (const [encoded, text] of subjects) {
      const m = await parse(bytes(`From: =?ANSI_X3.4-1968?Q?J=C3=BCrgen?= <j@example.com>\nSubject: ${encoded}\nMIME-Version: 1.0\n\nx\n`));
      expect(m.subject, encoded).toBe(text);
      expect(m.from).toEqual({ email: 'j@example.com', name: 'Jürgen' });
    }
  });

  it('a declared charset is respected, even when the bytes disagree', async () => {
    const m = await parse(bytes(`${head}Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\ncaf\xe9\n`));
    expect(m.bodyText).toBe('caf\ufffd\n');
  });

  it('multipart: the unlabelled part is fixed, the attachments are listed once', async () => {
    const raw = bytes(
      `${head}Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\nGr\xfc\xdfe\n` +
        `--b\nContent-Type: application/octet-stream; name="a.bin"\nContent-Transfer-Encoding: base64\n\nAAEC\n--b--\n`,
    );
    const m = await parse(raw);
    expect(m.bodyText?.trim()).toBe('Grüße');
    expect(m.attachments.map((a) => [a.filename, a.size])).toEqual([['a.bin', 3]]);
    expect(m.parseError).toBeNull();
  });
});
