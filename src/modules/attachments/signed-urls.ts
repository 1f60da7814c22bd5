/**
 * Signed, short-lived attachment URLs for `cid:` images in sanitised HTML: an `<img>` cannot send X-API-Key, so the
 * rewritten `src` carries its own proof — `/api/attachments/{id}/download?inline=1&expires={unix s}&signature={hmac}`.
 *
 * - The signature is HMAC-SHA256 over `{id}.{expires}` with a key derived (HKDF) from the instance secret
 *   (INCOMING_SECRET_KEY / DATA_DIR/secret.key, already shared by every instance), base64url; compared in constant time.
 * - It opens that one attachment, read-only, until `expires`; it is only ever handed to a caller who could read the
 *   email. Signed requests skip the per-key rate limit (there is no key), which the expiry bounds.
 * - `expires` is rounded up to 5 minutes, so the same image keeps the same URL for a while and browsers can cache it.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { attachmentDownloadUrl } from './attachments.types.js';

const ROUND_SECONDS = 300;

export class AttachmentUrlSigner {
  private readonly key: Buffer;

  constructor(secretKey: Buffer, private readonly ttlSeconds: number) {
    this.key = Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'incoming attachment urls v1', 32));
  }

  /** A URL that opens attachment `id` inline, valid for at least the TTL (at most 5 minutes more). */
  sign(id: number, nowMs = Date.now()): string {
    const expires = Math.ceil((nowMs / 1000 + this.ttlSeconds) / ROUND_SECONDS) * ROUND_SECONDS;
    return `${attachmentDownloadUrl(id)}?inline=1&expires=${expires}&signature=${this.mac(id, expires)}`;
  }

  /** Whether `signature` vouches for attachment `id` until `expires` (a unix time in seconds, not passed yet). */
  verify(id: number, expires: unknown, signature: unknown, nowMs = Date.now()): boolean {
    if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires) || typeof signature !== 'string') return false;
    const exp = Number(expires);
    if (exp * 1000 <= nowMs) return false;
    const expected = Buffer.from(this.mac(id, exp));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(id: number, expires: number): string {
    return createHmac('sha256', this.key).update(`${id}.${expires}`).digest('base64url');
  }
}
