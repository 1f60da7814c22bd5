/**
 * A server whose SELECT leaves out UIDNEXT (RFC 3501 requires it; some servers omit it): the folder's UIDNEXT is taken
 * as one above its highest UID. It was `undefined`, the folder cursor became NaN, and every pass failed with "The
 * database refused to store the synced mail" and reconnected, for good.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { startFakeImap, type FakeImap } from '../support/fake-imap.js';
import { buildMessage } from '../support/imap.js';
import { useMailEnv } from '../support/mail-account.js';
import { sql } from '../support/sync.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000' });
const fakes: FakeImap[] = [];
afterAll(async () => {
  for (const f of fakes) await f.close();
});

describe('a server without UIDNEXT in its SELECT answer', () => {
  for (const [what, message] of [['an empty folder', undefined], ['a folder with a message', buildMessage({ subject: 'no uidnext' })]] as const) {
    it(`syncs ${what}`, async () => {
      const fake = await startFakeImap({ noUidNext: true, ...(message ? { messageSize: Buffer.byteLength(message), source: message } : {}) });
      fakes.push(fake);
      const name = message ? 'withmail' : 'empty';
      const r = await t.srv.api('/api/accounts', {
        method: 'POST',
        json: { name, email: `${name}@example.com`, host: fake.host, port: fake.port, username: name, password: 'pw', encryption: 'none', is_active: true },
      });
      expect(r.status, r.text).toBe(201);
      const id = r.body.data.id as number;
      await expectEventually(async () => {
        const [account] = await sql(t.dbUrl, 'SELECT connected, last_error, last_sync_at IS NOT NULL AS synced FROM accounts WHERE id = $1', [id]);
        expect(account).toEqual({ connected: true, last_error: null, synced: true });
        const rows = await sql<{ subject: string; uid: string }>(t.dbUrl, 'SELECT subject, uid FROM emails WHERE account_id = $1', [id]);
        expect(rows).toEqual(message ? [{ subject: 'no uidnext', uid: '1' }] : []);
        const [cursor] = await sql<{ uid_next: string }>(t.dbUrl, 'SELECT uid_next FROM folder_states WHERE account_id = $1', [id]);
        expect(cursor!.uid_next).toBe(message ? '2' : '1');
      }, { timeoutMs: 15_000, intervalMs: 200 });
    }, 60_000);
  }
});
