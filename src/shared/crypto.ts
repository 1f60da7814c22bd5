/**
 * Crypto helpers with no I/O: AES-256-GCM sealing bound to associated data, API-secret hashing and constant-time
 * comparison, random tokens.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1';

/** Parses a 32-byte key given as 64 hex characters or base64. */
export function parseKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) throw new Error('secret key must be 32 bytes');
  return key;
}

/**
 * Encrypts `plaintext` with AES-256-GCM. `aad` binds the ciphertext to its owner (e.g. `account:42:password`), so a
 * ciphertext copied into another row fails to decrypt. Output: `v1:<iv b64>:<tag b64>:<ciphertext b64>`.
 */
export function seal(key: Buffer, plaintext: string, aad: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join(':');
}

/** Decrypts what `seal` produced with the same key and AAD. Throws on any tampering or truncated tag. */
export function open(key: Buffer, sealed: string, aad: string): string {
  const [version, ivB64, tagB64, bodyB64] = sealed.split(':');
  if (version !== VERSION || !ivB64 || !tagB64 || bodyB64 === undefined) throw new Error('malformed sealed value');
  const iv = Buffer.from(ivB64, 'base64');
  const tag = Buffer.from(tagB64, 'base64');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('malformed sealed value');
  // authTagLength: without it Node accepts truncated tags (security-notes.md).
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(Buffer.from(bodyB64, 'base64')), decipher.final()]).toString('utf8');
}

/**
 * Hashes an API secret. Secrets we generate carry 256 bits of entropy, so a salted SHA-256 is enough (a slow KDF
 * only matters for guessable secrets, and would cost every request tens of milliseconds).
 */
export function hashSecret(secret: string, salt: string): string {
  return createHash('sha256').update(salt).update('\0').update(secret, 'utf8').digest('hex');
}

/** Constant-time equality of two hex digests. */
export function digestsEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** A URL-safe random token with the given prefix, e.g. `ink_…`. */
export function randomToken(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}
