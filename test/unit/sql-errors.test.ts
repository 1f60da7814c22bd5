import { DriverException } from '@mikro-orm/core';
import { describe, expect, it } from 'vitest';
import { isDataError, sqlStateOf } from '../../src/db/sql-errors.js';
import { AppError, ErrorCode } from '../../src/shared/errors.js';

const pgError = (code: string, message = 'refused') => Object.assign(new Error(message), { code, severity: 'ERROR' });

describe('sqlStateOf / isDataError', () => {
  it('finds the SQLSTATE through MikroORM and AppError wrappers', () => {
    expect(sqlStateOf(pgError('54000'))).toBe('54000');
    expect(sqlStateOf(new DriverException(pgError('22001')))).toBe('22001');
    expect(sqlStateOf(new AppError(ErrorCode.UPSTREAM_ERROR, 'x', undefined, { cause: pgError('23503') }))).toBe('23503');
  });

  it('is not fooled by Node errno codes or other errors', () => {
    for (const code of ['EPIPE', 'EPERM', 'EROFS', 'ECONNRESET', 'NoConnection', 'ETIMEOUT']) expect(sqlStateOf(pgError(code))).toBeUndefined();
    expect(sqlStateOf(new Error('plain'))).toBeUndefined();
    expect(sqlStateOf('a string')).toBeUndefined();
  });

  it('data exceptions and program limits are data errors; constraints, outages and conflicts are not', () => {
    // index row too large (54000), string too long for tsvector (54000), value too long (22001), out of range (22003)
    for (const code of ['54000', '22001', '22003', '22P02']) expect(isDataError(pgError(code))).toBe(true);
    for (const code of ['23503', '23505', '08006', '57P01', '40001', '42P01']) expect(isDataError(pgError(code))).toBe(false);
  });
});
