/**
 * Per-key request limits per minute and per hour, counted in PostgreSQL (fixed windows) so that every server instance
 * draws on the same budget; concurrent requests of one key share an upsert (window-counts.ts).
 *
 * Only requests the per-minute limit admits use the hourly budget: a client that ignores Retry-After and keeps calling
 * during a refused minute would otherwise spend its hour on refusals (after 60 served requests, ~940 refused ones could
 * lock it out until the hour's end). The same upsert decides it: it counts the minute first and adds to the hour only
 * the requests within the minute's limit.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Principal } from './auth.service.js';
import { withAnyStatementTimeout } from '../../db/statement-timeout.js';
import { CoalescedCounts, WindowSweep } from './window-counts.js';

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

/** A request's place in its key's windows (1 = the window's first request). */
interface Used {
  minute: number;
  hour: number;
}

/** The windows' counts after an upsert. */
interface Totals {
  minute: number;
  hour: number;
}

export class RateLimitService {
  private readonly counts = new CoalescedCounts<Totals>();
  private readonly sweep: WindowSweep;

  constructor(private readonly orm: MikroORM) {
    this.sweep = new WindowSweep(orm, 'rate_limit_counters');
  }

  /** Counts one request for the principal and says whether it is within both limits. */
  async hit(principal: Principal, now = Date.now()): Promise<RateLimitDecision> {
    const minuteStart = Math.floor(now / MINUTE) * MINUTE;
    const hourStart = Math.floor(now / HOUR) * HOUR;
    const used = await this.count(principal.keyId, principal.limits.perMinute, minuteStart, hourStart);
    const windows = [
      { limit: principal.limits.perMinute, used: used.minute, resetMs: minuteStart + MINUTE },
      { limit: principal.limits.perHour, used: used.hour, resetMs: hourStart + HOUR },
    ];
    const exceeded = windows.filter((w) => w.used > w.limit);
    const binding =
      exceeded.sort((a, b) => b.resetMs - a.resetMs)[0] ??
      windows.sort((a, b) => a.limit - a.used - (b.limit - b.used))[0]!;
    // Once per key and minute (the window's first request), record when the key was last used.
    if (used.minute === 1) {
      await withAnyStatementTimeout(() =>
        this.orm.em.getConnection().execute('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [new Date(now).toISOString(), principal.keyId]),
      );
    }
    // Windows that ended over an hour ago.
    this.sweep.maybe(now, now - 2 * HOUR);
    return {
      allowed: exceeded.length === 0,
      limit: binding.limit,
      remaining: Math.max(0, binding.limit - binding.used),
      resetAt: Math.ceil(binding.resetMs / 1000),
      retryAfter: Math.max(1, Math.ceil((binding.resetMs - now) / 1000)),
    };
  }

  /** Counts one request in the key's windows, with the others of the key that arrive while an upsert is in flight. */
  private async count(keyId: number, perMinute: number, minuteStart: number, hourStart: number): Promise<Used> {
    const { result, n, index } = await this.counts.count(`${keyId}:${minuteStart}:${hourStart}`, (n) =>
      this.upsert(keyId, perMinute, minuteStart, hourStart, n),
    );
    // How many of the group the minute's limit lets through: the first ones; only they were counted in the hour.
    const admitted = Math.min(n, Math.max(0, perMinute - (result.minute - n)));
    // The group took the last n places of the minute, in arrival order, and its admitted requests the last places of
    // the hour. A refused one is shown the place it would have taken: over the hour's limit, it is told to wait for
    // the hour rather than the minute.
    return {
      minute: result.minute - n + 1 + index,
      hour: index < admitted ? result.hour - admitted + 1 + index : result.hour + 1,
    };
  }

  /** Adds n requests to the minute, and those of them within the minute's limit to the hour: one statement. */
  private async upsert(keyId: number, perMinute: number, minuteStart: number, hourStart: number, n: number): Promise<Totals> {
    // Under any statement timeout: the connection keeps the one of the request's statements (statement-timeout.ts).
    const [row] = await withAnyStatementTimeout(() => this.orm.em.getConnection().execute<Totals[]>(
      `WITH m AS (
         INSERT INTO rate_limit_counters AS c (key_id, bucket, window_start, count) VALUES (?, 'minute', ?, ?)
         ON CONFLICT (key_id, bucket, window_start) DO UPDATE SET count = c.count + excluded.count
         RETURNING count
       ), h AS (
         INSERT INTO rate_limit_counters AS c (key_id, bucket, window_start, count)
         SELECT ?, 'hour', ?, LEAST(CAST(? AS int), GREATEST(0, CAST(? AS int) - (m.count - CAST(? AS int)))) FROM m
         ON CONFLICT (key_id, bucket, window_start) DO UPDATE SET count = c.count + excluded.count
         RETURNING count
       )
       SELECT m.count AS minute, h.count AS hour FROM m, h`,
      [keyId, new Date(minuteStart).toISOString(), n, keyId, new Date(hourStart).toISOString(), n, perMinute, n],
      'all',
    ));
    return row!;
  }
}
