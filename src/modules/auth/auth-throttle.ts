/**
 * The failed-authentication throttle: a secret (INCOMING_API_SECRET may be 16 characters a person chose) cannot be
 * guessed online without limit, and unknown key ids cannot be tried without limit either.
 *
 * Failed authentications are counted in fixed windows (AUTH_FAILURE_WINDOW_SECONDS) per client address and per API
 * key, in PostgreSQL, so the limits hold across instances (`auth_failure_counters`, the machinery of the per-key rate
 * limits: window-counts.ts). Only failures cost a write; a successful request costs nothing more. The failure that goes
 * over a limit, and every later request of that client (or with that key) until the window ends, gets 429 with
 * Retry-After, whatever its credentials: answering a right secret differently would let the guessing go on. An instance
 * remembers the blocks it learnt of in memory, so a blocked client costs no database work; another instance learns of
 * the block at the client's first failure there.
 *
 * Client addresses: IPv6 ones are counted by their /64 (one subscriber's network; an attacker has all of it), IPv4-mapped
 * IPv6 ones as IPv4.
 *
 * Key lockouts hurt the key's owner too, and anybody who knows a key id could cause them. A client that authenticated
 * with a key on this instance (same address, within KNOWN_CLIENT_MS) is therefore not refused for that key's lockout,
 * only for its own address's: it knows the secret already, so this tells an attacker nothing.
 */
import ipaddr from 'ipaddr.js';
import type { MikroORM } from '@mikro-orm/postgresql';
import { AppError } from '../../shared/errors.js';
import { CoalescedCounts, WindowSweep } from './window-counts.js';

export interface AuthFailureLimits {
  /** Failures per client address and window; 0: no limit. */
  readonly perIp: number;
  /** Failures per API key and window; 0: no limit. */
  readonly perKey: number;
  readonly windowMs: number;
}

/** How long a client that authenticated with a key is exempt from that key's lockout. */
const KNOWN_CLIENT_MS = 24 * 3_600_000;
/** Bound of each in-memory map (blocks, known clients). */
const MAX_ENTRIES = 100_000;

/** The subject a client address is counted under. */
export function addressSubject(address: string): string {
  if (!ipaddr.isValid(address)) return `ip:${address.slice(0, 60)}`;
  let a = ipaddr.parse(address);
  if (a instanceof ipaddr.IPv6 && a.isIPv4MappedAddress()) a = a.toIPv4Address();
  if (a instanceof ipaddr.IPv4) return `ip:${a.toString()}`;
  return `ip:${new ipaddr.IPv6([...a.parts.slice(0, 4), 0, 0, 0, 0]).toString()}/64`;
}

const keySubject = (keyId: number) => `key:${keyId}`;

/** Sets `k` in a map bounded to MAX_ENTRIES: when full, expired entries go first, then everything. */
function setBounded(map: Map<string, number>, k: string, until: number, now: number): void {
  if (map.size >= MAX_ENTRIES && !map.has(k)) {
    for (const [key, t] of map) if (t <= now) map.delete(key);
    if (map.size >= MAX_ENTRIES) map.clear();
  }
  map.set(k, until);
}

/** The throttle as one client sees it (see AuthThrottle.client). */
export interface ClientThrottle {
  /** Throws RATE_LIMITED if this client, or the key (unless this client used it before), is blocked. */
  check(keyId: number | null): void;
  /** Counts a failed authentication (and against the key, if it exists); throws RATE_LIMITED if it went over a limit. */
  failed(keyId: number | null): Promise<void>;
  succeeded(keyId: number): void;
}

export class AuthThrottle {
  /** Subject → end of the window it is blocked in. */
  private readonly blocked = new Map<string, number>();
  /** `keyId subject` → until when the client counts as one that authenticated with the key. */
  private readonly known = new Map<string, number>();
  private readonly counts = new CoalescedCounts<Map<string, number>>();
  private readonly sweep: WindowSweep;

  constructor(
    private readonly orm: MikroORM,
    private readonly limits: AuthFailureLimits,
  ) {
    this.sweep = new WindowSweep(orm, 'auth_failure_counters');
  }

  client(address: string, now = () => Date.now()): ClientThrottle {
    const subject = addressSubject(address);
    return {
      check: (keyId) => this.check(subject, keyId, now()),
      failed: async (keyId) => {
        await this.count(subject, keyId, now());
        this.check(subject, keyId, now());
      },
      succeeded: (keyId) => {
        const t = now();
        const k = `${keyId} ${subject}`;
        // Refreshed once an hour at most: a busy client does not rewrite the map on every request.
        if ((this.known.get(k) ?? 0) < t + KNOWN_CLIENT_MS - 3_600_000) setBounded(this.known, k, t + KNOWN_CLIENT_MS, t);
      },
    };
  }

  private check(subject: string, keyId: number | null, now: number): void {
    let until = this.blockedUntil(subject, now);
    if (keyId !== null && (this.known.get(`${keyId} ${subject}`) ?? 0) <= now) until = Math.max(until, this.blockedUntil(keySubject(keyId), now));
    if (until > now) {
      const wait = Math.max(1, Math.ceil((until - now) / 1000));
      throw AppError.rateLimited(`Too many failed authentication attempts; retry in ${wait} seconds`, wait);
    }
  }

  private blockedUntil(subject: string, now: number): number {
    const until = this.blocked.get(subject);
    if (until === undefined) return 0;
    if (until > now) return until;
    this.blocked.delete(subject);
    return 0;
  }

  /** Counts the failure in the window's rows of the client and the key; blocks each subject that went over its limit. */
  private async count(client: string, keyId: number | null, now: number): Promise<void> {
    const { perIp, perKey, windowMs } = this.limits;
    const limits = new Map<string, number>();
    if (perIp > 0) limits.set(client, perIp);
    if (perKey > 0 && keyId !== null) limits.set(keySubject(keyId), perKey);
    if (limits.size === 0) return;
    const windowStart = Math.floor(now / windowMs) * windowMs;
    const subjects = [...limits.keys()];
    const { result, n, index } = await this.counts.count(`${subjects.join(' ')} ${windowStart}`, (n) => this.upsert(subjects, windowStart, n));
    for (const [subject, limit] of limits) {
      // This failure's place in the subject's window (the group took the last n places, in arrival order).
      if ((result.get(subject) ?? n) - n + 1 + index > limit) setBounded(this.blocked, subject, windowStart + windowMs, now);
    }
    this.sweep.maybe(now, windowStart - windowMs);
  }

  private async upsert(subjects: string[], windowStart: number, n: number): Promise<Map<string, number>> {
    const rows = await this.orm.em.getConnection().execute<{ subject: string; count: number }[]>(
      `INSERT INTO auth_failure_counters AS c (subject, window_start, count)
       SELECT s, ?, ? FROM json_array_elements_text(?::json) AS s
       ON CONFLICT (subject, window_start) DO UPDATE SET count = c.count + excluded.count
       RETURNING subject, count`,
      [new Date(windowStart).toISOString(), n, JSON.stringify(subjects)],
      'all',
    );
    return new Map(rows.map((r) => [r.subject, r.count]));
  }
}
