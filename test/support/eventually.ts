/** Polling assertions for asynchronous effects (IMAP IDLE, sync workers, subscriptions). */

/** Options for expectEventually(). */
export interface EventuallyOptions {
  /** Give up after this long; default 5000 ms. */
  timeoutMs?: number;
  /** Pause between attempts; default 50 ms. */
  intervalMs?: number;
}

/**
 * Runs `fn` (typically containing `expect(...)` calls) until it neither throws nor rejects. On timeout, rethrows
 * the last failure unchanged (so vitest still shows its diff). `fn` runs at least once, and once more right at
 * the deadline if an interval would overshoot it.
 */
export async function expectEventually(fn: () => Promise<void> | void, opts: EventuallyOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fn();
      return;
    } catch (e) {
      const left = deadline - Date.now();
      if (left <= 0) {
        try {
          if (e instanceof Error) e.message += ` (still failing after ${timeoutMs} ms)`;
        } catch {
          // a read-only message: rethrow as is
        }
        throw e;
      }
      await new Promise((r) => setTimeout(r, Math.min(intervalMs, left)));
    }
  }
}
