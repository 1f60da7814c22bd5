/**
 * Many accounts on an instance whose database is a few milliseconds away: the supervisor renews all of its leases in
 * one statement per tick. It renewed them one statement each, in sequence, so a tick took (accounts × round trip):
 * with 60 accounts and a 30 ms round trip, longer than the lease TTL, and another instance took over accounts whose
 * lease had lapsed meanwhile while this one still ran their sessions — two sessions of one account at once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { startFakeImap, type FakeImap } from '../support/fake-imap.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startProxy, type SilenceableProxy } from '../support/tcp-proxy.js';

const ACCOUNTS = 60;
const env = { SYNC_TICK_MS: '300', SYNC_LEASE_TTL_MS: '1500', SYNC_POLL_INTERVAL_MS: '60000' };
let db: TestDatabase | undefined;
let fake: FakeImap | undefined;
let proxy: SilenceableProxy | undefined;
const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
  await proxy?.close();
  await fake?.close();
  await db?.drop();
});

describe('many accounts, a distant database', () => {
  it('leases are renewed in time: another instance never takes over a running account', async () => {
    db = await createTestDatabase();
    fake = await startFakeImap();
    const setup = await startTestServer(db.url, { SYNC_ENABLED: 'false' });
    servers.push(setup);
    for (let i = 0; i < ACCOUNTS; i++) {
      const r = await setup.api('/api/accounts', {
        method: 'POST',
        json: { name: `m${i}`, email: `m${i}@example.com`, host: fake.host, port: fake.port, username: `m${i}`, password: 'pw', encryption: 'none', is_active: true },
      });
      expect(r.status, r.text).toBe(201);
    }
    const url = new URL(db.url);
    proxy = await startProxy({ host: url.hostname, port: Number(url.port || 5432) }, { delayMs: 15 });
    url.hostname = proxy.host;
    url.port = String(proxy.port);
    const a = await startTestServer(url.toString(), env);
    servers.push(a);
    await expectEventually(() => expect(a.server.engine.supervisor!.owned()).toHaveLength(ACCOUNTS), { timeoutMs: 60_000, intervalMs: 200 });

    const b = await startTestServer(db.url, env);
    servers.push(b);
    const deadline = Date.now() + 6000;
    while (Date.now() < deadline) {
      const mine = new Set(a.server.engine.supervisor!.owned());
      const both = b.server.engine.supervisor!.owned().filter((id) => mine.has(id));
      expect(both, 'accounts whose sessions ran on both instances').toEqual([]);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(a.server.engine.supervisor!.owned()).toHaveLength(ACCOUNTS);
  }, 120_000);
});
