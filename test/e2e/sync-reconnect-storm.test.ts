/**
 * 45 accounts whose server refuses them: LOGIN answered NO or BAD (paused at once: one login each, then none until
 * the account is updated), or a BYE instead of a greeting (too many connections: retried with jittered exponential
 * backoff, reported as refused for now, never paused). No reconnect storm against the servers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { startFakeImap, type FakeImap } from '../support/fake-imap.js';
import { useMailEnv } from '../support/mail-account.js';
import { sql } from '../support/sync.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_BACKOFF_BASE_MS: '1000', SYNC_BACKOFF_MAX_MS: '60000' });
const fakes: FakeImap[] = [];
afterAll(async () => {
  for (const f of fakes) await f.close();
});

describe('many accounts refused by their server', () => {
  it('bad credentials pause at once; a busy server is retried with backoff', async () => {
    const no = await startFakeImap({ login: 'NO' });
    const bad = await startFakeImap({ login: 'BAD' });
    const bye = await startFakeImap({ bye: '* BYE Too many connections, try later' });
    fakes.push(no, bad, bye);
    let n = 0;
    for (const fake of [no, bad, bye]) {
      for (let k = 0; k < 15; k++, n++) {
        const r = await t.srv.api('/api/accounts', {
          method: 'POST',
          json: { name: `s${n}`, email: `s${n}@example.com`, host: fake.host, port: fake.port, username: `s${n}`, password: 'pw', encryption: 'none', is_active: true },
        });
        expect(r.status, r.text).toBe(201);
      }
    }
    await expectEventually(async () => {
      const [row] = await sql<{ n: string }>(t.dbUrl, 'SELECT count(*) AS n FROM accounts WHERE sync_paused_at IS NOT NULL');
      expect(Number(row!.n)).toBe(30);
    }, { timeoutMs: 15_000, intervalMs: 200 });
    const started = bye.connections;
    await new Promise((r) => setTimeout(r, 6000));
    expect(no.logins).toBe(15);
    expect(bad.logins).toBe(15);
    // Backoff from 1 s, doubling, jittered (at least a quarter of each step): at most 4 attempts each in 6 s.
    expect(bye.connections - started).toBeLessThanOrEqual(15 * 4);
    const busy = await sql<{ last_error: string; paused: boolean }>(t.dbUrl, "SELECT last_error, sync_paused_at IS NOT NULL AS paused FROM accounts WHERE name LIKE 's%' AND sync_paused_at IS NULL");
    expect(busy).toHaveLength(15);
    for (const a of busy) expect(a.last_error).toMatch(/refused the session for now \(BYE\): Too many connections, try later/);
  }, 90_000);
});
