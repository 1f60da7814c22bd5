/** Webhook URL guard (SSRF rules) and Standard Webhooks signing, without network or database. */
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { forbiddenRange, UrlGuard } from '../../src/modules/webhooks/url-guard.js';
import { generateSecret, signer } from '../../src/modules/webhooks/webhook-sender.js';
import { webhookBody, webhookMessageId } from '../../src/modules/webhooks/webhook-payload.js';

describe('forbiddenRange', () => {
  it.each([
    ['127.0.0.1', 'loopback'], ['10.0.0.1', 'private'], ['172.16.5.4', 'private'], ['192.168.0.1', 'private'],
    ['169.254.169.254', 'linkLocal'], ['100.64.0.1', 'carrierGradeNat'], ['0.0.0.0', 'unspecified'],
    ['::1', 'loopback'], ['fe80::1', 'linkLocal'], ['fc00::1', 'uniqueLocal'], ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:10.1.2.3', 'private'], ['[::ffff:169.254.169.254]', 'linkLocal'],
    // IPv4-compatible (deprecated) forms as new URL() spells them (::127.0.0.1 → ::7f00:1): ipaddr.js calls them unicast.
    ['::7f00:1', 'reserved'], ['[::a9fe:a9fe]', 'reserved'], ['::a00:1', 'reserved'], ['4000::1', 'reserved'],
  ])('%s is refused (%s)', (addr, range) => expect(forbiddenRange(addr)).toBe(range));

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111'])('%s is a public address', (addr) => expect(forbiddenRange(addr)).toBeNull());
});

describe('UrlGuard', () => {
  const strict = new UrlGuard([]);
  it.each([
    'https://127.0.0.1/', 'https://2130706433/', 'https://0177.0.0.1/', 'https://127.1/', 'https://0x7f000001/',
    'https://[::ffff:127.0.0.1]/', 'https://[::127.0.0.1]/', 'https://[::a9fe:a9fe]/', 'https://[::1]/', 'https://10.0.0.1/', 'https://169.254.169.254/', 'https://0/',
  ])('refuses %s (URL spellings of internal addresses)', (url) => expect(() => strict.parse(url)).toThrow(/not allowed/));

  it('requires https, refuses credentials and non-http schemes', () => {
    expect(() => strict.parse('http://example.com/')).toThrow(/https/);
    expect(() => strict.parse('ftp://example.com/')).toThrow(/https/);
    expect(() => strict.parse('https://a:b@example.com/')).toThrow(/credentials/);
    expect(strict.parse('https://example.com/hook').hostname).toBe('example.com');
  });

  it('refuses a host name that resolves to loopback', async () => {
    await expect(strict.check('https://localhost/')).rejects.toThrow(/loopback/);
  });

  it('lets allow-listed hosts through, plain http included (IP spellings normalised)', async () => {
    const g = new UrlGuard(['127.0.0.1', 'LocalHost']);
    expect(g.parse('http://127.0.0.1:8080/x').port).toBe('8080');
    expect(g.parse('http://2130706433/').hostname).toBe('127.0.0.1');
    await expect(g.check('http://localhost:1/')).resolves.toBeInstanceOf(URL);
    expect(() => g.parse('http://127.0.0.2/')).toThrow();
  });
});

describe('signing', () => {
  it('reproduces the Standard Webhooks test vector', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const msgId = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
    const ts = 1614265330;
    const body = '{"test": 2432232314}';
    expect(signer(secret).sign(msgId, new Date(ts * 1000), body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    const manual = createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(`${msgId}.${ts}.${body}`).digest('base64');
    expect(signer(secret).sign(msgId, new Date(ts * 1000), body)).toBe(`v1,${manual}`);
  });

  it('generated secrets and raw secrets verify with the standardwebhooks package', () => {
    for (const secret of [generateSecret(), 'my-own-secret-1234567']) {
      const body = webhookBody({ type: 'email.received', id: 'e'.repeat(64), createdAt: new Date(), payload: { emailId: 1 } });
      const msgId = webhookMessageId(7, 'e'.repeat(64));
      const now = new Date();
      const headers = { 'webhook-id': msgId, 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': signer(secret).sign(msgId, now, body) };
      const receiver = secret.startsWith('whsec_') ? new Webhook(secret) : new Webhook(secret, { format: 'raw' });
      expect(receiver.verify(body, headers)).toMatchObject({ event: 'email.received', data: { emailId: 1 } });
    }
    expect(generateSecret()).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  });
});
