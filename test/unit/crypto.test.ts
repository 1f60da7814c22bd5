import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digestsEqual, hashSecret, open, parseKey, seal } from '../../src/shared/crypto.js';

const key = randomBytes(32);

describe('seal/open (AES-256-GCM)', () => {
  it('round-trips and never contains the plaintext', () => {
    const sealed = seal(key, 'imap-päss', 'accounts:1:password');
    expect(sealed).not.toContain('imap');
    expect(open(key, sealed, 'accounts:1:password')).toBe('imap-päss');
  });

  it('refuses a ciphertext moved to another row (AAD)', () => {
    const sealed = seal(key, 'secret', 'accounts:1:password');
    expect(() => open(key, sealed, 'accounts:2:password')).toThrow();
  });

  it('refuses a truncated tag and a tampered body', () => {
    const [v, iv, tag, body] = seal(key, 'secret', 'a').split(':');
    const shortTag = Buffer.from(tag!, 'base64').subarray(0, 4).toString('base64');
    expect(() => open(key, [v, iv, shortTag, body].join(':'), 'a')).toThrow();
    const flipped = Buffer.from(body!, 'base64');
    flipped[0] = flipped[0]! ^ 1;
    expect(() => open(key, [v, iv, tag, flipped.toString('base64')].join(':'), 'a')).toThrow();
  });

  it('refuses another key', () => {
    expect(() => open(randomBytes(32), seal(key, 's', 'a'), 'a')).toThrow();
  });

  it('parses hex and base64 keys of 32 bytes only', () => {
    expect(parseKey('ab'.repeat(32)).length).toBe(32);
    expect(parseKey(randomBytes(32).toString('base64')).length).toBe(32);
    expect(() => parseKey('abcd')).toThrow();
  });
});

describe('secret hashing', () => {
  it('depends on the salt and compares in constant time', () => {
    const h = hashSecret('s3cret', 'salt1');
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(digestsEqual(h, hashSecret('s3cret', 'salt1'))).toBe(true);
    expect(digestsEqual(h, hashSecret('s3cret', 'salt2'))).toBe(false);
    expect(digestsEqual(h, hashSecret('s3cret!', 'salt1'))).toBe(false);
    expect(digestsEqual(h, 'ab')).toBe(false);
  });
});
