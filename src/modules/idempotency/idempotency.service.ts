/**
 * `Idempotency-Key` for write requests (the IETF httpapi draft, as Stripe and others do it): a client that retries a
 * POST/PUT/PATCH/DELETE after a timeout or a dropped connection sends the same key and gets the first answer again
 * instead of doing the work twice (a second webhook, a second sync, later a second sent email).
 *
 * - Keys are per API key, kept for 24 hours; a key is 1–255 printable ASCII characters.
 * - The first request with a key claims it (a row with no answer yet) before it runs. A retry while it still runs is
 *   409 CONFLICT; a claim older than ABANDONED_MS without an answer (the instance died mid-request) is taken over.
 * - The same key with another method, URL or body is 422 UNPROCESSABLE: a client bug, never a silent replay.
 * - Answers below 500 are kept and replayed; a 5xx releases the key, so the retry runs again.
 * - Recording the answer (or the release) when the database is away — the request's 503 is often just that — is
 *   tried again in the background until it works, so that a client retrying as told gets the answer (or runs the
 *   request) once the database is back, instead of 409 until the claim counts as abandoned. Each claim is named by
 *   its `created_at`, so a late recording never touches a later claim of the same key.
 * - Stored answers are sealed (AES-256-GCM, bound to the API key and Idempotency-Key): some carry a secret shown only
 *   once, e.g. a created webhook's signing secret, which must not sit in the table in clear for 24 hours.
 */
import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import type { MikroORM } from '@mikro-orm/postgresql';
import { exec } from '../../db/sql.js';
import { open, seal } from '../../shared/crypto.js';
import { AppError, ErrorCode } from '../../shared/errors.js';

export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
/** A claim with no answer after this long belongs to a request that will never answer (its instance died). */
export const ABANDONED_MS = 10 * 60_000;
const CLEANUP_EVERY_MS = 60_000;
/** Background retries of a recording that failed: the first delay, doubled up to the last. */
const RECORD_RETRY_MS = [1000, 30_000] as const;
const KEY = /^[\x21-\x7e]{1,255}$/;

export interface StoredAnswer {
  status: number;
  contentType: string | null;
  body: string;
}

/** `claimedAt`: the claim's `created_at` (as PostgreSQL prints it), which names this claim of the key. */
export type Claim = { kind: 'claimed'; claimedAt: string } | { kind: 'replay'; answer: StoredAnswer };

interface Row {
  fingerprint: string;
  status: number | null;
  content_type: string | null;
  body: string | null;
}

/** The request's identity: method, URL and the body as canonical JSON (object keys sorted: their order means nothing). */
export function requestFingerprint(method: string, url: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${url}\n${body === undefined ? '' : stringify(body)}`).digest('hex');
}

/** Binds a stored answer to its row: a sealed body copied to another key does not open. */
const aad = (apiKeyId: number, key: string) => `idempotency:${apiKeyId}:${key}:body`;
const SEALED = /^v1:/;

export class IdempotencyService {
  private lastCleanup = 0;

  constructor(private readonly orm: MikroORM, private readonly secretKey: Buffer) {}

  /** Claims `key` for this request, or says which stored answer to replay; throws 400/409/422 as described above. */
  async claim(apiKeyId: number, key: string, fingerprint: string): Promise<Claim> {
    if (!KEY.test(key)) throw AppError.badInput('Idempotency-Key: must be 1 to 255 printable ASCII characters, no spaces');
    this.maybeCleanup();
    const em = this.orm.em.fork();
    // A new key, or one whose previous use expired or was abandoned, is (re)claimed in one statement.
    const [claimed] = await exec<{ claimed_at: string }>(
      em,
      `INSERT INTO idempotency_keys (api_key_id, key, fingerprint) VALUES (?, ?, ?)
       ON CONFLICT (api_key_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, status = NULL, content_type = NULL, body = NULL, created_at = now()
       WHERE idempotency_keys.created_at < now() - (? || ' milliseconds')::interval
          OR (idempotency_keys.status IS NULL AND idempotency_keys.fingerprint = EXCLUDED.fingerprint AND idempotency_keys.created_at < now() - (? || ' milliseconds')::interval)
       RETURNING created_at::text AS claimed_at`,
      [apiKeyId, key, fingerprint, String(IDEMPOTENCY_TTL_MS), String(ABANDONED_MS)],
    );
    if (claimed) return { kind: 'claimed', claimedAt: claimed.claimed_at };
    const [row] = await exec<Row>(em, 'SELECT fingerprint, status, content_type, body FROM idempotency_keys WHERE api_key_id = ? AND key = ?', [apiKeyId, key]);
    // Released between the two statements (its first request failed with a 5xx): claim it again.
    if (!row) return this.claim(apiKeyId, key, fingerprint);
    if (row.fingerprint !== fingerprint) {
      throw new AppError(ErrorCode.UNPROCESSABLE, 'Idempotency-Key was already used for a different request (method, URL or body)');
    }
    if (row.status === null || row.body === null) {
      throw new AppError(ErrorCode.CONFLICT, 'A request with this Idempotency-Key is still being processed; retry later');
    }
    return { kind: 'replay', answer: { status: row.status, contentType: row.content_type, body: this.openBody(apiKeyId, key, row.body) } };
  }

  /**
   * A stored answer, opened. One sealed under another secret key (INCOMING_SECRET_KEY changed, or instances that do
   * not share it) cannot be replayed, and running the request again could repeat what it did: a 409 says so.
   */
  private openBody(apiKeyId: number, key: string, body: string): string {
    if (!SEALED.test(body)) return body; // stored in clear before answers were sealed; expires within the TTL
    try {
      return open(this.secretKey, body, aad(apiKeyId, key));
    } catch {
      throw new AppError(
        ErrorCode.CONFLICT,
        'The answer stored for this Idempotency-Key cannot be read (the server\'s secret key changed); the request was not run again. Use a new Idempotency-Key',
      );
    }
  }

  /**
   * Records the answer of a claimed request (below 500), or releases the key (5xx) so that a retry runs again. When
   * that fails, it is tried again in the background (see the module comment) and the error is thrown for the log.
   */
  async complete(apiKeyId: number, key: string, claimedAt: string, answer: StoredAnswer): Promise<void> {
    const sealed = answer.status >= 500 ? null : seal(this.secretKey, answer.body, aad(apiKeyId, key));
    const record = async (): Promise<void> => {
      const em = this.orm.em.fork();
      const mine = 'api_key_id = ? AND key = ? AND created_at = ?::timestamptz AND status IS NULL';
      if (sealed === null) await exec(em, `DELETE FROM idempotency_keys WHERE ${mine}`, [apiKeyId, key, claimedAt]);
      else await exec(em, `UPDATE idempotency_keys SET status = ?, content_type = ?, body = ? WHERE ${mine}`, [answer.status, answer.contentType, sealed, apiKeyId, key, claimedAt]);
    };
    try {
      await record();
    } catch (err) {
      this.recordLater(record, Date.now() + ABANDONED_MS, RECORD_RETRY_MS[0]);
      throw err;
    }
  }

  /** Runs `record` after `delayMs`, and again (twice as late, at most RECORD_RETRY_MS[1]) while it fails, until `deadline`. */
  private recordLater(record: () => Promise<void>, deadline: number, delayMs: number): void {
    if (Date.now() + delayMs > deadline) return;
    const next = Math.min(delayMs * 2, RECORD_RETRY_MS[1]);
    setTimeout(() => void record().catch(() => this.recordLater(record, deadline, next)), delayMs).unref();
  }

  /** Drops expired keys, at most once a minute per instance. */
  private maybeCleanup(): void {
    const now = Date.now();
    if (now - this.lastCleanup < CLEANUP_EVERY_MS) return;
    this.lastCleanup = now;
    void exec(this.orm.em.fork(), `DELETE FROM idempotency_keys WHERE created_at < now() - (? || ' milliseconds')::interval`, [String(IDEMPOTENCY_TTL_MS)]).catch(() => undefined);
  }
}
