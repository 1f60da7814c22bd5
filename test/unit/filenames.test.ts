import { describe, expect, it } from 'vitest';
import { asciiFilename, extensionFor, sanitizeFilename } from '../../src/shared/filenames.js';
import { HOSTILE_FILENAMES } from '../fixtures/messages.js';

const FALLBACK = 'attachment-1.bin';
const clean = (raw: string | null | undefined): string => sanitizeFilename(raw, FALLBACK);

describe('sanitizeFilename', () => {
  it('keeps ordinary names, including non-ASCII', () => {
    expect(clean('Quarterly report.pdf')).toBe('Quarterly report.pdf');
    expect(clean('Grüße – 報告書.docx')).toBe('Grüße – 報告書.docx');
  });

  it.each([
    ['../../etc/passwd', 'passwd'],
    ['/etc/passwd', 'passwd'],
    ['..\\..\\windows\\win.ini', 'win.ini'],
    ['C:\\Users\\x\\evil.exe', 'evil.exe'],
    ['a/b\\c/d.txt', 'd.txt'],
    ['../../x', 'x'],
  ])('strips path components: %j', (raw, expected) => {
    expect(clean(raw)).toBe(expected);
  });

  it('removes CR/LF header injection (as whitespace) and other control characters', () => {
    expect(clean('report\r\nSet-Cookie: a=b.txt')).toBe('report Set-Cookie: a=b.txt');
    expect(clean('evil\u0000name.txt')).toBe('evilname.txt');
    expect(clean('bell\u0007\u001b[31m.txt')).toBe('bell[31m.txt');
    expect(clean('c1\u0085\u009bx.txt')).toBe('c1 x.txt');
    expect(clean('tab\there.txt')).toBe('tab here.txt');
  });

  it('removes bidi overrides, isolates, marks and zero-width characters', () => {
    expect(clean('invoice\u202Efdp.exe')).toBe('invoicefdp.exe');
    for (const ch of ['\u202A', '\u202B', '\u202C', '\u202D', '\u2066', '\u2067', '\u2068', '\u2069', '\u200E', '\u200F', '\u200B', '\uFEFF']) {
      expect(clean(`a${ch}b.txt`)).toBe('ab.txt');
    }
  });

  it('strips leading dots (no hidden files, no ..) and trailing dots/spaces', () => {
    expect(clean('.bashrc')).toBe('bashrc');
    expect(clean('...hidden.txt')).toBe('hidden.txt');
    expect(clean('name.txt. . ')).toBe('name.txt');
  });

  it('strips trailing dots in linear time, whatever the name holds (`/[.\\s]+$/` retried every dot of a run)', () => {
    const dots = '.'.repeat(250_000);
    // About a minute with the old regex (the test timed out), in the parser worker of every sync of such a mail.
    expect(clean(`a${dots}b`)).toBe(`a${'.'.repeat(198)}b`);
    expect(clean(`report.pdf${dots} ${dots}`)).toBe('report.pdf');
  });

  it('a name that is only a known extension keeps it on the fallback name, not as a bare word', () => {
    expect(clean('.pdf')).toBe('attachment-1.pdf');
    expect(clean('../.DOCX ')).toBe('attachment-1.DOCX');
    expect(sanitizeFilename('..jpg', 'attachment-3.jpg')).toBe('attachment-3.jpg');
    expect(clean('.pdf.exe')).toBe('pdf.exe');
    expect(clean(clean('.pdf'))).toBe(clean('.pdf'));
  });

  it('collapses whitespace', () => {
    expect(clean('  a   b \u00a0 c.txt  ')).toBe('a b c.txt');
  });

  it('NFC-normalises', () => {
    const decomposed = 'Cafe\u0301.txt';
    expect(clean(decomposed)).toBe('Caf\u00e9.txt');
    expect(clean(decomposed).length).toBe(8);
  });

  it.each([[null], [undefined], [''], ['   '], ['....'], ['../'], ['..\\'], ['\u202E\u0000'], ['/']])('falls back for %j', (raw) => {
    expect(clean(raw)).toBe(FALLBACK);
  });

  it('drops lone surrogates', () => {
    expect(clean('a\ud800b.txt')).toBe('ab.txt');
    expect(clean('emoji 😀.png')).toBe('emoji 😀.png');
  });

  it('caps at 200 UTF-8 bytes keeping the extension and whole code points', () => {
    const long = `${'a'.repeat(500)}.pdf`;
    const out = clean(long);
    expect(Buffer.byteLength(out)).toBe(200);
    expect(out.endsWith('.pdf')).toBe(true);

    const multibyte = clean(`${'報'.repeat(300)}.xlsx`);
    expect(Buffer.byteLength(multibyte)).toBeLessThanOrEqual(200);
    expect(multibyte.endsWith('.xlsx')).toBe(true);
    expect(multibyte).not.toContain('\ufffd');

    const emoji = clean('😀'.repeat(100));
    expect(Buffer.byteLength(emoji)).toBe(200);
    expect([...emoji].every((c) => c === '😀')).toBe(true);
  });

  it('handles a 1 MiB hostile name in linear time', () => {
    const started = performance.now();
    const out = clean(`${'x'.repeat(1024 * 1024)}.txt`);
    expect(Buffer.byteLength(out)).toBe(200);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('is idempotent', () => {
    for (const raw of ['../../etc/passwd', 'report\r\nSet-Cookie: a=b.txt', `${'é'.repeat(300)}.txt`, 'invoice\u202Efdp.exe']) {
      expect(clean(clean(raw))).toBe(clean(raw));
    }
  });
});

describe('sanitizeFilename: invariants on hostile names', () => {
  const BAD = /[/\\\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/;
  const hostile = [
    ...HOSTILE_FILENAMES.map((h) => h.original),
    '../../etc/passwd', 'report\r\nSet-Cookie: a=b.txt', 'evil\u0000name.txt', 'invoice\u202Efdp.exe', '../../evil.sh', '..%2F..%2Fevil.sh',
    '\u2066\u2067\u2068\u2069x.pdf', 'a\u0085b\u2028c\u2029d.txt', '\u0000../\u0000../x', `${'/'.repeat(500)}${'ü'.repeat(300)}.tar.gz`,
    `${'\u202e'.repeat(1000)}.exe`, 'C:\\..\\..\\boot.ini', '\ud83d', `${'a'.repeat(300)}\r\n.txt`,
  ];

  it.each(hostile.map((h) => [h]))('%j → no separator, control or bidi character, ≤ 200 bytes, idempotent', (raw) => {
    const out = clean(raw);
    expect(out).not.toMatch(BAD);
    expect(out).not.toMatch(/\p{Cs}/u);
    expect(out).not.toMatch(/^[.\s]|[.\s]$/);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(200);
    expect(out.length).toBeGreaterThan(0);
    expect(clean(out)).toBe(out);
  });

  it('keeps the extension when cutting a long hostile name', () => {
    expect(clean(`${'/'.repeat(500)}${'ü'.repeat(300)}.tar.gz`)).toMatch(/^ü+\.gz$/);
    expect(clean(`../../${'x'.repeat(400)}.sh`)).toBe(`${'x'.repeat(197)}.sh`);
  });

  it('the RFC 2231-decoded traversal `..%2F..%2Fevil.sh` keeps only the last component', () => {
    expect(clean(decodeURIComponent('..%2F..%2Fevil.sh'))).toBe('evil.sh');
  });
});

describe('asciiFilename (Content-Disposition fallback)', () => {
  it('drops accents, replaces what has no ASCII form with _, and leaves ASCII names to the library', () => {
    expect(asciiFilename('Facture été.pdf')).toBe('Facture ete.pdf');
    expect(asciiFilename('Отчёт 2024.docx')).toBe('_____ 2024.docx');
    expect(asciiFilename('plain "quoted".txt')).toBe(true);
  });
});

describe('extensionFor', () => {
  it('maps known MIME types and falls back to bin', () => {
    expect(extensionFor('application/pdf')).toBe('pdf');
    expect(extensionFor('IMAGE/PNG')).toBe('png');
    expect(extensionFor('image/jpg')).toBe('jpg');
    expect(extensionFor('image/x-png')).toBe('png');
    // The parts of bounces and read receipts, and any other text, open as text.
    expect(extensionFor('text/rfc822-headers')).toBe('txt');
    expect(extensionFor('message/disposition-notification')).toBe('txt');
    expect(extensionFor('text/x-log')).toBe('txt');
    expect(extensionFor('message/global')).toBe('eml');
    expect(extensionFor('message/rfc822')).toBe('eml');
    expect(extensionFor('application/ms-tnef')).toBe('dat');
    expect(extensionFor('application/x-unknown')).toBe('bin');
  });
});
