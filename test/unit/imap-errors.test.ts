import { describe, expect, it } from 'vitest';
import { classifyImapError, isSelectRefused } from '../../src/modules/accounts/imap-errors.js';

const target = { host: 'mail.example.org', port: 993 };

describe('classifyImapError', () => {
  it('bad credentials are not retryable and carry the server reason', () => {
    const err = Object.assign(new Error('Command failed'), { authenticationFailed: true, responseText: 'Authentication failed.' });
    const c = classifyImapError(err, target);
    expect(c).toMatchObject({ kind: 'auth', retryable: false });
    expect(c.message).toContain('Authentication failed.');
    // Said once: Dovecot's reason is the whole message, another server's follows the prefix.
    expect(c.message).toBe('Authentication failed.');
    const gmail = { message: 'Command failed', authenticationFailed: true, serverResponseCode: 'AUTHENTICATIONFAILED', responseText: 'Invalid credentials (Failure)' };
    expect(classifyImapError(gmail, target).message).toBe('Authentication failed: Invalid credentials (Failure)');
    expect(classifyImapError({ message: 'Command failed', authenticationFailed: true }, target).message).toBe('Authentication failed: the server rejected the credentials');
  });

  it('a BYE instead of a greeting is a session refused for now, with the server\'s words', () => {
    const bye = { message: 'Unexpected close', code: 'ClosedAfterConnectText', reason: 'Too many connections, try later' };
    expect(classifyImapError(bye, target)).toEqual({ kind: 'unavailable', retryable: true, message: 'mail.example.org:993 refused the session for now (BYE): Too many connections, try later' });
  });

  it('a login refused for now (connection limit, auth backend down) is retryable, not bad credentials', () => {
    // What imapflow throws for Dovecot's answer to one session too many: a refused LOGIN, marked authenticationFailed.
    const limit = Object.assign(new Error('Command failed'), {
      authenticationFailed: true,
      serverResponseCode: 'LIMIT',
      responseText: 'Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)',
    });
    const c = classifyImapError(limit, target);
    expect(c).toMatchObject({ kind: 'unavailable', retryable: true });
    expect(c.message).toBe('mail.example.org:993 refused the session for now [LIMIT]: Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)');
    const down = { message: 'Command failed', authenticationFailed: true, serverResponseCode: 'UNAVAILABLE', responseText: 'Temporary authentication failure.' };
    expect(classifyImapError(down, target)).toMatchObject({ kind: 'unavailable', retryable: true });
    // Gmail says it in words only.
    const gmail = { message: 'Command failed', authenticationFailed: true, serverResponseCode: 'ALERT', responseText: 'Too many simultaneous connections. (Failure)' };
    expect(classifyImapError(gmail, target)).toMatchObject({ kind: 'unavailable', retryable: true });
  });

  it('LOGINDISABLED (imapflow refuses to send the password in clear) says to use TLS, not that the credentials were wrong', () => {
    // imapflow's AuthenticationFailure: thrown before any LOGIN, without a server response.
    const c = classifyImapError(Object.assign(new Error('Login is disabled'), { authenticationFailed: true }), target);
    expect(c).toMatchObject({ kind: 'auth', retryable: false });
    expect(c.message).toBe('mail.example.org:993 disables login on an unencrypted connection (LOGINDISABLED): use encryption ssl or tls');
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
    // OpenSSL's own text names its source files and ends with a newline: its reason is what the user can act on.
    const openssl = {
      message: '40FDE5A6547F0000:error:0A00010B:SSL routines:tls_validate_record_header:wrong version number:../deps/openssl/openssl/ssl/record/methods/tlsany_meth.c:77:\n',
      code: 'ERR_SSL_WRONG_VERSION_NUMBER',
      reason: 'wrong version number',
    };
    const expected = 'TLS negotiation with mail.example.org:993 failed: wrong version number (the server did not answer in TLS: check the port and the encryption setting)';
    expect(classifyImapError(openssl, target).message).toBe(expected);
    expect(classifyImapError({ ...openssl, reason: undefined }, target).message).toBe(expected);
    expect(classifyImapError({ message: 'Failed to connect', _err: openssl }, target).message).toBe(expected);
    expect(classifyImapError({ message: 'self-signed certificate', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, target).message).toBe(
      'TLS negotiation with mail.example.org:993 failed: self-signed certificate',
    );
  });

  it('timeouts and resets are retryable', () => {
    expect(classifyImapError({ code: 'CONNECT_TIMEOUT' }, target)).toMatchObject({ kind: 'timeout', retryable: true });
    expect(classifyImapError({ code: 'ECONNRESET', message: 'reset' }, target)).toMatchObject({ kind: 'network', retryable: true });
  });

  it('anything else is a protocol error with its text', () => {
    expect(classifyImapError('weird', target)).toMatchObject({ kind: 'protocol' });
  });

  it('a SELECT or EXAMINE answered NO is a folder the server refuses to open; other failures are not', () => {
    const refused = { message: 'Command failed', responseStatus: 'NO', executedCommand: '8 SELECT Parent', responseText: "Mailbox doesn't exist: Parent" };
    expect(isSelectRefused(refused)).toBe(true);
    expect(isSelectRefused({ ...refused, executedCommand: '9 EXAMINE "Other/"' })).toBe(true);
    expect(isSelectRefused({ ...refused, executedCommand: '9 UID FETCH 1:* (FLAGS)' })).toBe(false);
    expect(isSelectRefused({ ...refused, responseStatus: 'BAD' })).toBe(false);
    expect(isSelectRefused(null)).toBe(false);
  });
});
