/**
 * Per-key request limits per minute and per hour, counted in PostgreSQL (fixed windows, one upsert per request) so
 * that every server instance draws on the same budget.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Principal } from './auth.service.js';

export interface RateLimitDecision {
  readonly allowed: boolean;
  /** The binding limit (the window with the least remaining). */
  readonly limit: number;
  readonly remaining: number;
  /** Epoch seconds when the binding window resets. */
  readonly resetAt: number;
  /** Seconds to wait before retrying when refused. */
  readonly retryAfter: number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

interface CounterRow {
  bucket: string;
  count: number;
}

export class RateLimitService {
  private lastCleanup = 0;

  constructor(private readonly orm: MikroORM) {}

  /** Counts one request for the principal and says whether it is within both limits. */
  async hit(principal: Principal, now = Date.now()): Promise<RateLimitDecision> {
    const minuteStart = Math.floor(now / MINUTE) * MINUTE;
    const hourStart = Math.floor(now / HOUR) * HOUR;
    const rows = await this.orm.em.getConnection().execute<CounterRow[]>(
      `INSERT INTO rate_limit_counters AS c (key_id, bucket, window_start, count)
       VALUES (?, 'minute', ?, 1), (?, 'hour', ?, 1)
       ON CONFLICT (key_id, bucket, window_start) DO UPDATE SET count = c.count + 1
       RETURNING bucket, count`,
      [principal.keyId, new Date(minuteStart).toISOString(), principal.keyId, new Date(hourStart).toISOString()],
      'all',
    );
    const used = (bucket: string) => rows.find((r) => r.bucket === bucket)?.count ?? 0;
    const windows = [
      { limit: principal.limits.perMinute, used: used('minute'), resetMs: minuteStart + MINUTE },
      { limit: principal.limits.perHour, used: used('hour'), resetMs: hourStart + HOUR },
    ];
    const exceeded = windows.filter((w) => w.used > w.limit);
    const binding =
      exceeded.sort((a, b) => b.resetMs - a.resetMs)[0] ??
      windows.sort((a, b) => a.limit - a.used - (b.limit - b.used))[0]!;
    // Once per key and minute (the window's first request), record when the key was last used.
    if (used('minute') === 1) {
      await this.orm.em.getConnection().execute('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [new Date(now).toISOString(), principal.keyId]);
    }
    this.maybeCleanup(now);
    return {
      allowed: exceeded.length === 0,
      limit: binding.limit,
      remaining: Math.max(0, binding.limit - binding.used),
      resetAt: Math.ceil(binding.resetMs / 1000),
      retryAfter: Math.max(1, Math.ceil((binding.resetMs - now) / 1000)),
    };
  }

  /** Drops windows that ended over an hour ago, at most once a minute per instance. */
  private maybeCleanup(now: number): void {
    if (now - this.lastCleanup < MINUTE) return;
    this.lastCleanup = now;
    const em = this.orm.em.fork();
    void em
      .getConnection()
      .execute('DELETE FROM rate_limit_counters WHERE window_start < ?', [new Date(now - 2 * HOUR).toISOString()])
      .catch(() => undefined);
  }
}
