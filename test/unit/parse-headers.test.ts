/** The header reader of ingest: dates as mailers write them, and header values capped to fit PostgreSQL's indexes. */
import { describe, expect, it } from 'vitest';
import { headerBlock } from '../../src/shared/header-hash.js';
import { cutUtf8 } from '../../src/shared/utf8.js';
import { bodyStart, parseDate, parseHeaderFields, readFields } from '../../src/sync/ingest/parse-headers.js';
import { prng } from '../fixtures/messages.js';

describe('parseDate', () => {
  it.each([
    ['Tue, 04 Mar 2025 10:15:30 +0100', '2025-03-04T09:15:30.000Z'],
    ['Tue, 1 Jul 2003 10:52:37 +0200 (CEST)', '2003-07-01T08:52:37.000Z'],
    ['4 Mar 25 10:15 GMT', '2025-03-04T10:15:00.000Z'],
    ['Sat, 15 Mar 2025 09:10:11 EST', '2025-03-15T14:10:11.000Z'],
    ['2025-03-04T10:15:30Z', '2025-03-04T10:15:30.000Z'],
    // A leap day, whose UTC instant is the next day.
    ['Thu, 29 Feb 2024 23:30:00 -0500', '2024-03-01T04:30:00.000Z'],
    // A zone name V8 does not know (RFC 5322 §4.3: "-0000"), also after a numeric zone; military letters alike.
    ['Tue, 4 Mar 2025 10:15:00 CET', '2025-03-04T10:15:00.000Z'],
    ['Tue, 1 Jul 2025 10:15:00 CEST', '2025-07-01T10:15:00.000Z'],
    ['Tue, 4 Mar 2025 10:15:00 +0100 CET', '2025-03-04T09:15:00.000Z'],
    ['Tue, 4 Mar 2025 10:15:00 A', '2025-03-04T10:15:00.000Z'],
    ['Tue, 4 Mar 2025 10:15:00 UTC+1', '2025-03-04T09:15:00.000Z'],
    ['2025-03-04T10:15:30+01:00', '2025-03-04T09:15:30.000Z'],
    // asctime(), without a zone (UTC) or with one.
    ['Tue Mar  4 10:15:00 2025', '2025-03-04T10:15:00.000Z'],
    ['Tue Mar 4 10:15:00 2025 +0100', '2025-03-04T09:15:00.000Z'],
  ])('%s', (value, iso) => {
    expect(parseDate(value)?.toISOString()).toBe(iso);
  });

  it('a date without a zone is UTC, whatever the server\'s time zone', () => {
    const tz = process.env.TZ;
    try {
      for (const zone of ['UTC', 'Asia/Tokyo', 'America/New_York']) {
        process.env.TZ = zone;
        expect(parseDate('Tue, 4 Mar 2025 10:15:00')?.toISOString(), zone).toBe('2025-03-04T10:15:00.000Z');
        expect(parseDate('2025-03-04 10:15:00')?.toISOString(), zone).toBe('2025-03-04T10:15:00.000Z');
        expect(parseDate('4 Mar 2025 10:15 (no zone)')?.toISOString(), zone).toBe('2025-03-04T10:15:00.000Z');
      }
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it.each([
    undefined, '', '1', 'yesterday', 'Mon, 32 Jan 2020 10:00:00 +0000', 'not a date at all',
    // Days V8 would roll over into the next month.
    'Fri, 30 Feb 2024 10:00:00 +0000', '31 Apr 2024 10:00 GMT', '2023-02-29T10:00:00Z',
  ])('%j → null', (value) => {
    expect(parseDate(value)).toBeNull();
  });
});

describe('indexed header values stay within PostgreSQL btree entries (~2,700 bytes)', () => {
  const cjk = '議'.repeat(990); // 2,970 UTF-8 bytes

  it('cutUtf8 cuts between code points', () => {
    expect(cutUtf8('abc', 2)).toBe('ab');
    expect(cutUtf8('é'.repeat(10), 5)).toBe('éé'); // 2 bytes each: the third does not fit whole
    expect(cutUtf8('😀x', 3)).toBe('');
    expect(cutUtf8(cjk, 998)).toBe('議'.repeat(332));
    expect(cutUtf8('short', 998)).toBe('short');
  });

  it('caps Message-ID, In-Reply-To, References and addresses in bytes, alike', () => {
    const head = Buffer.from(
      [`Message-ID: <${cjk}@x>`, `In-Reply-To: <${cjk}@x>`, `References: <${cjk}@x>`, `From: ${cjk}@example.com`, 'Subject: s', '', ''].join('\r\n'),
    );
    const f = parseHeaderFields(readFields(head));
    for (const v of [f.messageId!, f.inReplyTo!, f.references[0]!, f.from!.email]) expect(Buffer.byteLength(v)).toBeLessThanOrEqual(998);
    expect(f.inReplyTo).toBe(f.messageId);
    expect(f.references[0]).toBe(f.messageId);
  });

  it('drops whitespace inside a bracketed Message-ID, alike in replies', () => {
    const f = parseHeaderFields(readFields(Buffer.from('Message-ID: <abc def@example.com>\r\nIn-Reply-To: <abc\r\n def@example.com>\r\nReferences: <> <x@y> <abc def@example.com>\r\n\r\n')));
    expect(f.messageId).toBe('abcdef@example.com');
    expect(f.inReplyTo).toBe('abcdef@example.com');
    expect(f.references).toEqual(['x@y', 'abcdef@example.com']);
  });

  it('In-Reply-To and References in free text name no message (they threaded unrelated mail by its words)', () => {
    const read = (lines: string[]) => parseHeaderFields(readFields(Buffer.from([...lines, '', ''].join('\r\n'))));
    expect(read(['In-Reply-To: Your message of Mon, 1 Jan 2024', 'References: none'])).toMatchObject({ inReplyTo: null, references: [] });
    expect(read(['In-Reply-To: Message from john@example.com of Monday'])).toMatchObject({ inReplyTo: null });
    // Bare msg-ids (no brackets) still count, comments aside; bracketed ids inside a phrase too.
    expect(read(['In-Reply-To: a@x (Bob)', 'References: a@x, b@x'])).toMatchObject({ inReplyTo: 'a@x', references: ['a@x', 'b@x'] });
    expect(read(['In-Reply-To: "Your message of Monday" <q@x>', 'References: <r@x> (sent by Bob)'])).toMatchObject({ inReplyTo: 'q@x', references: ['r@x'] });
    // The Message-ID is read as before: it is part of a stored email's identity.
    expect(read(['Message-ID: no-at-sign']).messageId).toBe('no-at-sign');
  });

  it('takes the Sender when there is no From', () => {
    const f = parseHeaderFields(readFields(Buffer.from('Sender: Robot <robot@example.com>\r\nSubject: s\r\n\r\n')));
    expect(f.from).toEqual({ email: 'robot@example.com', name: 'Robot' });
    const both = parseHeaderFields(readFields(Buffer.from('From: a@example.com\r\nSender: b@example.com\r\n\r\n')));
    expect(both.from?.email).toBe('a@example.com');
  });

  it('keeps at most 64 KiB of recipients per address header', () => {
    const to = Array.from({ length: 40_000 }, (_, i) => `user${i}@example.com`).join(', ');
    const f = parseHeaderFields(readFields(Buffer.from(`To: ${to}\r\nSubject: s\r\n\r\n`)));
    expect(f.to.length).toBeGreaterThan(1000);
    expect(f.to.length).toBeLessThan(40_000);
    expect(f.to[0]).toEqual({ email: 'user0@example.com', name: '' });
  });
});

describe('the end of the header block', () => {
  /** The definitions as first written: the earlier of the first `\r\n\r\n` and the first `\n\n`. */
  const reference = (raw: Buffer): { block: Buffer; body: number } => {
    const crlf = raw.indexOf('\r\n\r\n');
    const lf = raw.indexOf('\n\n');
    const sep = crlf === -1 ? lf : lf === -1 ? crlf : Math.min(crlf, lf);
    let end = raw[0] === 0x0a || (raw[0] === 0x0d && raw[1] === 0x0a) ? 0 : sep === -1 ? raw.length : sep;
    while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d)) end--;
    const body = crlf === -1 && lf === -1 ? raw.length : lf === -1 || (crlf !== -1 && crlf < lf) ? crlf + 4 : lf + 2;
    return { block: raw.subarray(0, end), body };
  };

  it('is the earlier of the first CRLF CRLF and LF LF, read line by line', () => {
    const rnd = prng(7);
    const samples = ['', '\n', '\r\n', '\n\r\n', 'a\n\r\nb', 'a\r\n\r\nb\n\nc', 'a\n\nb\r\n\r\n', 'a\r\r\n\r\nb', 'a\r\n\n', 'a\r\n\rb\n\r\n'];
    for (let n = 0; n < 3000; n++) samples.push(Array.from({ length: Math.floor(rnd() * 12) }, () => 'a\r\n:'[Math.floor(rnd() * 4)]).join(''));
    for (const s of samples) {
      const raw = Buffer.from(s);
      const ref = reference(raw);
      expect([s, headerBlock(raw).toString(), bodyStart(raw)]).toEqual([s, ref.block.toString(), ref.body]);
    }
  });
});
