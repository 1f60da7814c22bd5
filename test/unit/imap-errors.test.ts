import { describe, expect, it } from 'vitest';
import { classifyImapError } from '../../src/modules/accounts/imap-errors.js';

const target = { host: 'mail.example.org', port: 993 };

describe('classifyImapError', () => {
  it('bad credentials are not retryable and carry the server reason', () => {
    const err = Object.assign(new Error('Command failed'), { authenticationFailed: true, responseText: 'Authentication failed.' });
    const c = classifyImapError(err, target);
    expect(c).toMatchObject({ kind: 'auth', retryable: false });
    expect(c.message).toContain('Authentication failed.');
  });

  it('DNS failure names the host', () => {
    const c = classifyImapError(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }), target);
    expect(c).toMatchObject({ kind: 'dns' });
    expect(c.message).toContain('mail.example.org');
  });

  it('refused connection, nested in _err', () => {
    const c = classifyImapError({ message: 'x', _err: { code: 'ECONNREFUSED' } }, target);
    expect(c).toMatchObject({ kind: 'refused', retryable: true });
    expect(c.message).toContain('mail.example.org:993');
  });

  it('TLS failures', () => {
    expect(classifyImapError({ message: 'self-signed', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, target).kind).toBe('tls');
    expect(classifyImapError({ message: 'wrong version', code: 'ERR_SSL_WRONG_VERSION_NUMBER' }, target).kind).toBe('tls');
    expect(classifyImapError({ message: 'x', tlsFailed: true }, target).kind).toBe('tls');
  });

  it('timeouts and resets are retryable', () => {
    expect(classifyImapError({ code: 'CONNECT_TIMEOUT' }, target)).toMatchObject({ kind: 'timeout', retryable: true });
    expect(classifyImapError({ code: 'ECONNRESET', message: 'reset' }, target)).toMatchObject({ kind: 'network', retryable: true });
  });

  it('anything else is a protocol error with its text', () => {
    expect(classifyImapError('weird', target)).toMatchObject({ kind: 'protocol' });
  });
});
