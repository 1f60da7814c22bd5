import { describe, expect, it } from 'vitest';
import { imapOptions, type ImapSettings } from '../../src/modules/accounts/imap-client.js';

const timeouts = { connectTimeoutMs: 1000, greetingTimeoutMs: 1000, socketTimeoutMs: 1000, commandTimeoutMs: 1000, tlsRejectUnauthorized: true };
const tlsOf = (host: string) => imapOptions({ host, port: 993, username: 'u', password: 'p', encryption: 'ssl' } satisfies ImapSettings, timeouts).tls;

describe('imapOptions', () => {
  it('sends a host name as the TLS server name (without a trailing dot), never an IP address', () => {
    expect(tlsOf('imap.example.com')).toEqual({ rejectUnauthorized: true, servername: 'imap.example.com' });
    expect(tlsOf('imap.example.com.')).toEqual({ rejectUnauthorized: true, servername: 'imap.example.com' });
    for (const ip of ['127.0.0.1', '10.0.0.1', '::1', '2001:db8::1']) expect(tlsOf(ip)).toEqual({ rejectUnauthorized: true });
  });
});
