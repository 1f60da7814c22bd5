/**
 * Resources of a long-running server stay bounded: what a soak (hours of polls, sessions, subscriptions and account
 * changes) would accumulate is counted here after many repetitions instead.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { syncedAccount, useMailEnv } from '../support/mail-account.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_LEASE_TTL_MS: '3000' });

/** The running account worker's stop signal (private: the session loop's sleeps listen to it). */
function workerSignal(accountId: number): AbortSignal {
  const workers = (t.srv.server.engine.supervisor as unknown as { workers: Map<number, { abort: AbortController }> }).workers;
  const worker = workers.get(accountId);
  expect(worker, 'the account runs on this instance').toBeDefined();
  return worker!.abort.signal;
}

describe('account session', () => {
  it('a poll that slept leaves no abort listener behind on the worker', async () => {
    const { accountId } = await syncedAccount(t, ['polled']);
    const signal = workerSignal(accountId);
    let added = 0;
    const add = signal.addEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => {
      added++;
      return add(...args);
    }) as AbortSignal['addEventListener'];
    // Ten poll intervals slept (one listener each while it sleeps): each must be removed once its sleep is over.
    await expectEventually(() => expect(added).toBeGreaterThanOrEqual(10), { timeoutMs: 30_000, intervalMs: 200 });
    expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(2);
  }, 60_000);
});
