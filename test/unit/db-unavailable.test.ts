/** Which errors mean "the database cannot be reached right now" (answered 503, retried by the sync engine). */
import { ConnectionException, DriverException, UniqueConstraintViolationException } from '@mikro-orm/core';
import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable, isSocketError, registerDatabaseEndpoint } from '../../src/db/unavailable.js';
import { AppError } from '../../src/shared/errors.js';

const socketError = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`connect ${code}`), { code, ...extra });
const pgError = (code: string, message = 'server said no') => Object.assign(new Error(message), { code, severity: 'FATAL' });

describe('isDatabaseUnavailable', () => {
  registerDatabaseEndpoint('postgres://u:p@db.internal:6543/incoming');

  it('recognises the ORM-wrapped socket failures and connection exceptions', () => {
    expect(isDatabaseUnavailable(new DriverException(socketError('ECONNREFUSED', { port: 1 })))).toBe(true);
    expect(isDatabaseUnavailable(new ConnectionException(new Error('gone')))).toBe(true);
  });

  it('recognises raw socket errors only when they name the database', () => {
    expect(isDatabaseUnavailable(socketError('ECONNREFUSED', { address: '10.0.0.5', port: 6543 }))).toBe(true);
    expect(isDatabaseUnavailable(socketError('ENOTFOUND', { hostname: 'db.internal' }))).toBe(true);
    // An IMAP or webhook endpoint refusing is not the database.
    expect(isDatabaseUnavailable(socketError('ECONNREFUSED', { address: '10.0.0.5', port: 993 }))).toBe(false);
    expect(isDatabaseUnavailable(socketError('ENOTFOUND', { hostname: 'imap.example.com' }))).toBe(false);
  });

  it('recognises PostgreSQL shutdown, start-up and connection SQLSTATEs and node-postgres connection messages', () => {
    expect(isDatabaseUnavailable(pgError('57P01', 'terminating connection due to administrator command'))).toBe(true);
    expect(isDatabaseUnavailable(pgError('57P03', 'the database system is starting up'))).toBe(true);
    expect(isDatabaseUnavailable(pgError('08006'))).toBe(true);
    expect(isDatabaseUnavailable(pgError('53300', 'too many clients already'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
  });

  it('isSocketError: any socket-level failure, with or without an address (start-up only contacts the database)', () => {
    expect(isSocketError(socketError('ECONNRESET'))).toBe(true);
    expect(isSocketError(socketError('ETIMEDOUT'))).toBe(true);
    expect(isSocketError(pgError('28P01', 'password authentication failed'))).toBe(false);
    expect(isSocketError(null)).toBe(false);
  });

  it('follows causes', () => {
    expect(isDatabaseUnavailable(new Error('sync pass failed', { cause: pgError('57P01') }))).toBe(true);
  });

  it('leaves statement faults, our own errors and non-errors alone', () => {
    expect(isDatabaseUnavailable(new UniqueConstraintViolationException(pgError('23505', 'duplicate key')))).toBe(false);
    expect(isDatabaseUnavailable(pgError('42P01', 'relation "x" does not exist'))).toBe(false);
    // Class 08 but not an outage: PostgreSQL's answer to a statement it cannot read (a parameter with a NUL byte).
    expect(isDatabaseUnavailable(pgError('08P01', 'invalid message format'))).toBe(false);
    expect(isDatabaseUnavailable(new DriverException(pgError('08P01', 'invalid message format')))).toBe(false);
    expect(isDatabaseUnavailable(AppError.notFound('Email', 1))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError('x is undefined'))).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
  });
});
