import { DriverException } from '@mikro-orm/core';
import { describe, expect, it } from 'vitest';
import { isTransactionConflict, retryOnConflict, transientDatabaseError } from '../../src/db/conflicts.js';
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

describe('transaction conflicts (db/conflicts.ts)', () => {
  it('runs a transaction aborted by a deadlock or a serialization failure again, up to the attempts', async () => {
    for (const code of ['40P01', '40001']) {
      let runs = 0;
      const result = await retryOnConflict(async () => {
        if (++runs < 3) throw new DriverException(pgError(code, 'deadlock detected'));
        return 'done';
      });
      expect([result, runs]).toEqual(['done', 3]);
    }
    let runs = 0;
    const failing = retryOnConflict(async () => {
      runs++;
      throw pgError('40P01', 'deadlock detected');
    }, 2);
    await expect(failing).rejects.toThrow('deadlock detected');
    expect(runs).toBe(2);
  });

  it('does not run again for any other error', async () => {
    for (const err of [pgError('23505', 'duplicate key'), pgError('08006', 'connection failure'), new Error('plain')]) {
      let runs = 0;
      await expect(retryOnConflict(async () => { runs++; throw err; })).rejects.toBe(err);
      expect(runs).toBe(1);
    }
  });

  it('a conflict, like an outage, reaches the client as a 503 saying to retry; other errors are not transient', () => {
    expect(isTransactionConflict(new AppError(ErrorCode.UPSTREAM_ERROR, 'x', undefined, { cause: pgError('40P01') }))).toBe(true);
    const conflict = transientDatabaseError(new DriverException(pgError('40P01', 'deadlock detected')));
    expect([conflict?.code, conflict?.message]).toEqual([ErrorCode.SERVICE_UNAVAILABLE, 'The request conflicted with a concurrent change; retry it']);
    expect(transientDatabaseError(pgError('57P01', 'terminating connection'))?.code).toBe(ErrorCode.SERVICE_UNAVAILABLE);
    for (const code of ['23505', '22001', '42P01']) expect(transientDatabaseError(pgError(code))).toBeUndefined();
  });
});
