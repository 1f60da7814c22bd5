import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AttachmentUrlSigner } from '../../src/modules/attachments/signed-urls.js';

const parse = (url: string) => {
  const u = new URL(url, 'http://x');
  return { path: u.pathname, inline: u.searchParams.get('inline'), expires: u.searchParams.get('expires')!, signature: u.searchParams.get('signature')! };
};

describe('AttachmentUrlSigner', () => {
  const secret = randomBytes(32);
  const signer = new AttachmentUrlSigner(secret, 3600);
  const now = Date.UTC(2026, 0, 1, 12, 0, 30);

  it('signs the download URL of one attachment, valid for the TTL (rounded up to 5 minutes)', () => {
    const u = parse(signer.sign(42, now));
    expect(u.path).toBe('/api/attachments/42/download');
    expect(u.inline).toBe('1');
    const expires = Number(u.expires);
    expect(expires * 1000 - now).toBeGreaterThanOrEqual(3600_000);
    expect(expires * 1000 - now).toBeLessThan(3600_000 + 300_000);
    expect(expires % 300).toBe(0);
    expect(signer.verify(42, u.expires, u.signature, now)).toBe(true);
    // The same URL for a while (cacheable).
    expect(signer.sign(42, now + 60_000)).toBe(signer.sign(42, now));
  });

  it('refuses another attachment, a changed expiry, a tampered or missing signature, an expired URL, another secret', () => {
    const u = parse(signer.sign(42, now));
    expect(signer.verify(43, u.expires, u.signature, now)).toBe(false);
    expect(signer.verify(42, String(Number(u.expires) + 300), u.signature, now)).toBe(false);
    expect(signer.verify(42, u.expires, `${u.signature.slice(0, -1)}${u.signature.endsWith('A') ? 'B' : 'A'}`, now)).toBe(false);
    expect(signer.verify(42, u.expires, undefined, now)).toBe(false);
    expect(signer.verify(42, undefined, u.signature, now)).toBe(false);
    expect(signer.verify(42, `${u.expires}.5`, u.signature, now)).toBe(false);
    expect(signer.verify(42, u.expires, u.signature, Number(u.expires) * 1000)).toBe(false);
    expect(new AttachmentUrlSigner(randomBytes(32), 3600).verify(42, u.expires, u.signature, now)).toBe(false);
    // Another instance with the same secret accepts it (instances share INCOMING_SECRET_KEY).
    expect(new AttachmentUrlSigner(Buffer.from(secret), 60).verify(42, u.expires, u.signature, now)).toBe(true);
  });
});
