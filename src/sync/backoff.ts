/** Exponential backoff with full jitter (AWS style): attempt 0 → up to base, doubling to a cap. Pure. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  // Never below a quarter of the ceiling, so a storm of failures cannot reconnect in a tight loop.
  return Math.round(ceiling / 4 + random() * ceiling * 0.75);
}
