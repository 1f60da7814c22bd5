/** The email listing query builder: sort validation, Y-m-d days, LIKE escaping, scope, keyset cursors. */
import { describe, expect, it } from 'vitest';
import { afterSql, buildEmailWhere, decodeCursor, encodeCursor, escapeLike, orderSql, parseSort } from '../../src/modules/emails/email-query.js';
import { restStatistics } from '../../src/rest/presenters/emails.js';
import { AppError } from '../../src/shared/errors.js';
import { parseDay } from '../../src/shared/validation.js';

const badInput = (fn: () => unknown, text: string) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('BAD_USER_INPUT');
    expect((e as AppError).message).toContain(text);
    return;
  }
  throw new Error('expected a BAD_USER_INPUT');
};

describe('parseSort', () => {
  it('defaults to received_at desc and accepts any case', () => {
    expect(parseSort(undefined, undefined)).toEqual({ field: 'received_at', order: 'desc' });
    expect(parseSort('Subject', 'ASC')).toEqual({ field: 'subject', order: 'asc' });
    expect(parseSort('from_address', null)).toEqual({ field: 'from_address', order: 'desc' });
  });
  it('an empty sort or order is the default (a form or client sending the parameter empty)', () => {
    expect(parseSort('', '')).toEqual({ field: 'received_at', order: 'desc' });
    expect(parseSort('subject', '')).toEqual({ field: 'subject', order: 'desc' });
  });
  it('names the unknown field or order', () => {
    badInput(() => parseSort('size', 'asc'), 'sort: unknown sort field "size"');
    badInput(() => parseSort('subject', 'up'), 'order: unknown sort order "up"');
  });
});

describe('parseDay', () => {
  it('parses Y-m-d as UTC midnight and refuses impossible dates', () => {
    expect(parseDay('2024-02-29', 'since').toISOString()).toBe('2024-02-29T00:00:00.000Z');
    for (const bad of ['2023-02-29', '2024-13-01', '2024-1-1', '01/02/2024', 'yesterday', '2024-01-01T00:00', '0000-01-01']) badInput(() => parseDay(bad, 'until'), 'until: must be a date');
  });
  it('reads the years 1–99 as written (Date.UTC would make them 1900–1999), up to 9999', () => {
    expect(parseDay('0099-03-01', 'since').toISOString()).toBe('0099-03-01T00:00:00.000Z');
    expect(parseDay('9999-12-31', 'until').toISOString()).toBe('9999-12-31T00:00:00.000Z');
  });
});

describe('buildEmailWhere', () => {
  it('always scopes, and a scoped key with no accounts sees nothing', () => {
    expect(buildEmailWhere(null, {})).toEqual({ sql: 'TRUE', params: [] });
    expect(buildEmailWhere([3, 4], {})).toEqual({ sql: 'e.account_id = ANY(?::int[])', params: [[3, 4]] });
    expect(buildEmailWhere([], {}).params).toEqual([[]]);
  });
  it('maps every filter to one parameterised condition; until includes its whole day', () => {
    const w = buildEmailWhere(null, { accountId: 1, folder: 'INBOX', from: 'a_b', subject: '50%', search: 'été', hasAttachments: true, isRead: false, since: '2024-01-01', until: '2024-01-31' });
    expect(w.sql).toContain('e.search_vector @@ websearch_to_tsquery');
    expect(w.params).toEqual([1, 'INBOX', '%a\\_b%', '%a\\_b%', '%50\\%%', 'été', true, false, new Date('2024-01-01T00:00:00Z'), new Date('2024-02-01T00:00:00Z')]);
    expect(w.sql.split('?').length - 1).toBe(w.params.length);
  });
  it('until=9999-12-31 has no upper bound (its next midnight has no ISO form PostgreSQL reads)', () => {
    expect(buildEmailWhere(null, { until: '9999-12-31' }).sql).toBe('TRUE');
    expect(buildEmailWhere(null, { until: '9999-12-30' }).params).toEqual([new Date('9999-12-31T00:00:00Z')]);
  });
  it('ignores an empty folder (no IMAP folder is named ""), as it ignores the other empty text filters', () => {
    expect(buildEmailWhere(null, { folder: '' })).toEqual({ sql: 'TRUE', params: [] });
  });
  it('ignores empty text filters and refuses until before since', () => {
    expect(buildEmailWhere(null, { from: '', subject: '', search: '  ' }).sql).toBe('TRUE');
    badInput(() => buildEmailWhere(null, { since: '2024-02-01', until: '2024-01-01' }), 'until');
  });
  it('text filters are bounded in characters, not UTF-16 units (an emoji is one character)', () => {
    expect(() => buildEmailWhere(null, { subject: '😀'.repeat(1000) })).not.toThrow();
    badInput(() => buildEmailWhere(null, { subject: '😀'.repeat(1001) }), 'subject: must be at most 1000 characters');
    badInput(() => buildEmailWhere(null, { from: 'a'.repeat(1001) }), 'from: must be at most 1000 characters');
  });
  it('escapes LIKE wildcards and the escape character', () => {
    expect(escapeLike('100%_\\')).toBe('100\\%\\_\\\\');
  });
});

describe('keyset cursors', () => {
  const sort = { field: 'subject', order: 'asc' } as const;
  it('round-trip and compare (key, id) in the sort direction', () => {
    const c = encodeCursor({ ...sort, key: 'Hello, "world"', id: 42 });
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    const d = decodeCursor(c, sort);
    expect(d).toEqual({ ...sort, key: 'Hello, "world"', id: 42 });
    expect(afterSql(d)).toEqual({ sql: "(left(coalesce(e.subject, ''), 256), e.id) > (?::text, ?)", params: ['Hello, "world"', 42] });
    expect(afterSql({ field: 'received_at', order: 'desc', key: 'k', id: 1 }).sql).toBe('(e.received_at, e.id) < (?::timestamptz, ?)');
    expect(orderSql({ field: 'received_at', order: 'desc' })).toBe('e.received_at DESC, e.id DESC');
  });
  it('refuses garbage and cursors of another sort', () => {
    badInput(() => decodeCursor('not a cursor', sort), 'after: invalid cursor');
    badInput(() => decodeCursor(Buffer.from('[1,2,3]').toString('base64url'), sort), 'invalid cursor');
    badInput(() => decodeCursor(encodeCursor({ field: 'subject', order: 'desc', key: 'x', id: 1 }), sort), 'another sort');
    badInput(() => decodeCursor(encodeCursor({ ...sort, key: 'a\0b', id: 1 }), sort), 'after: invalid cursor');
  });
});

describe('restStatistics', () => {
  it('sums folders over accounts into a prototype-free map', () => {
    const s = restStatistics({
      totalEmails: 3, unreadEmails: 1, starredEmails: 0, archivedEmails: 0, withAttachments: 0, totalThreads: 2, latestEmailAt: null, oldestEmailAt: null,
      folders: [{ accountId: '1', folder: 'INBOX', total: 1, unread: 1 }, { accountId: '2', folder: 'INBOX', total: 1, unread: 0 }, { accountId: '2', folder: '__proto__', total: 1, unread: 0 }],
    });
    expect(JSON.stringify(s)).toBe('{"total_emails":3,"total_threads":2,"unread_emails":1,"folders":{"INBOX":2,"__proto__":1}}');
  });
});
