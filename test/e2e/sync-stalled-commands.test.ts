/**
 * IMAP_COMMAND_TIMEOUT_MS: a server that stops answering a command, yet trickles a byte now and then so that the
 * socket's inactivity timeout never fires, has its session closed (with the reason on the account) and reconnected,
 * instead of hanging for good. That matters beyond the account: a FETCH that hangs holds its share of the instance's
 * source byte budget, and two hung FETCHes of a large message (declared size) held all of it, so no other account
 * stored any mail any more. And an account updated while its pass waits for that budget is restarted at once: stopping
 * its session waited for the budget, and the supervisor's tick (lease renewals, new accounts) with it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { startFakeImap, type FakeImap } from '../support/fake-imap.js';
import { syncedAccount, useMailEnv } from '../support/mail-account.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', IMAP_COMMAND_TIMEOUT_MS: '2000', SYNC_BACKOFF_BASE_MS: '500', SYNC_BACKOFF_MAX_MS: '1000' });
const fakes: FakeImap[] = [];
afterAll(async () => {
  for (const f of fakes) await f.close();
});

async function accountOn(fake: FakeImap, name: string): Promise<number> {
  const r = await t.srv.api('/api/accounts', {
    method: 'POST',
    json: { name, email: `${name}@example.com`, host: fake.host, port: fake.port, username: name, password: 'pw', encryption: 'none', is_active: true },
  });
  expect(r.status, r.text).toBe(201);
  return r.body.data.id as number;
}

describe('a command the IMAP server never finishes answering', () => {
  it('closes the session with the reason, and it reconnects', async () => {
    const fake = await startFakeImap({ hangOn: 'SELECT', trickleMs: 300 });
    fakes.push(fake);
    const id = await accountOn(fake, 'trickle');
    await expectEventually(async () => {
      expect(fake.connections).toBeGreaterThanOrEqual(2);
      const a = (await t.srv.api(`/api/accounts/${id}`)).body.data;
      expect(a.last_error).toMatch(/the IMAP server stopped answering \(SELECT without a reply for \d+ s\)/);
    }, { timeoutMs: 20_000, intervalMs: 200 });
  }, 60_000);

  it('a hung FETCH of a large message gives back its share of the byte budget', async () => {
    // 40 MB declared: each such chunk takes 40 of the 48 MB budget; the second waits, and everyone after it.
    const fake = await startFakeImap({ messageSize: 40_000_000, hangOn: /BODY\.PEEK\[\]/, trickleMs: 300 });
    fakes.push(fake);
    await accountOn(fake, 'big1');
    await accountOn(fake, 'big2');
    await expectEventually(() => expect(fake.hung).toBeGreaterThanOrEqual(1), { timeoutMs: 20_000, intervalMs: 100 });
    await syncedAccount(t, ['healthy']);
  }, 60_000);
});

describe('an account updated while its pass waits for the byte budget', () => {
  const slow = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_BACKOFF_BASE_MS: '500', SYNC_BACKOFF_MAX_MS: '1000' });
  it('is restarted at once: the supervisor does not wait for the budget', async () => {
    // IMAP_COMMAND_TIMEOUT_MS is left at two minutes: the hung FETCH keeps 40 of the 48 MB meanwhile.
    const fake = await startFakeImap({ messageSize: 40_000_000, hangOn: /BODY\.PEEK\[\]/, trickleMs: 300 });
    fakes.push(fake);
    const ids = new Map<string, number>();
    for (const name of ['hold1', 'wait1']) {
      const r = await slow.srv.api('/api/accounts', {
        method: 'POST',
        json: { name, email: `${name}@example.com`, host: fake.host, port: fake.port, username: name, password: 'pw', encryption: 'none', is_active: true },
      });
      expect(r.status, r.text).toBe(201);
      ids.set(name, r.body.data.id as number);
    }
    await expectEventually(() => expect(fake.hung).toBe(1), { timeoutMs: 20_000, intervalMs: 100 });
    await new Promise((r) => setTimeout(r, 500)); // the other one's metadata fetched: it waits for the budget
    const waiting = fake.hungUsers[0] === 'hold1' ? 'wait1' : 'hold1';
    // The update restarts its session; stopping the old one waited for the budget, and the supervisor's tick with it:
    // no lease renewed, no new account taken up.
    const logins = fake.logins;
    expect((await slow.srv.api(`/api/accounts/${ids.get(waiting)!}`, { method: 'PUT', json: { name: 'renamed' } })).status).toBe(200);
    await expectEventually(() => expect(fake.logins).toBeGreaterThan(logins), { timeoutMs: 5000, intervalMs: 100 });
    const r = await slow.srv.api('/api/accounts', {
      method: 'POST',
      json: { name: 'later', email: 'later@example.com', host: fake.host, port: fake.port, username: 'later', password: 'pw', encryption: 'none', is_active: true },
    });
    await expectEventually(() => expect(slow.srv.server.engine.supervisor!.owned()).toContain(r.body.data.id), { timeoutMs: 5000, intervalMs: 100 });
  }, 60_000);
});
