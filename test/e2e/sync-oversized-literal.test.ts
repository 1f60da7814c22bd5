/**
 * A server that declares a small RFC822.SIZE and then sends a far larger source: imapflow buffers a literal whole and
 * allowed 1 GB, so one such server could take the process's memory (every account's sync with it). The session now
 * refuses a literal over MAX_MESSAGE_BYTES + 1 MiB: the message fails, then is fetched alone and skipped like any
 * message the server cannot return, and the folder's sync goes on.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { startFakeImap, type FakeImap } from '../support/fake-imap.js';
import { buildMessage } from '../support/imap.js';
import { useMailEnv } from '../support/mail-account.js';
import { sql } from '../support/sync.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', MAX_MESSAGE_BYTES: String(1024 * 1024), SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000' });
let fake: FakeImap | undefined;
afterAll(async () => fake?.close());

describe('a source larger than the server declared', () => {
  it('is refused past MAX_MESSAGE_BYTES + 1 MiB and skipped; the folder cursor moves on', async () => {
    const source = buildMessage({ subject: 'liar', text: 'x'.repeat(3 * 1024 * 1024) });
    fake = await startFakeImap({ messageSize: 200, source });
    const r = await t.srv.api('/api/accounts', {
      method: 'POST',
      json: { name: 'liar', email: 'liar@example.com', host: fake.host, port: fake.port, username: 'liar', password: 'pw', encryption: 'none', is_active: true },
    });
    expect(r.status, r.text).toBe(201);
    const id = r.body.data.id as number;
    await expectEventually(async () => {
      const [cursor] = await sql<{ uid_next: string }>(t.dbUrl, 'SELECT uid_next FROM folder_states WHERE account_id = $1', [id]);
      expect(cursor?.uid_next).toBe('2');
    }, { timeoutMs: 20_000, intervalMs: 200 });
    expect(await sql(t.dbUrl, 'SELECT id FROM emails WHERE account_id = $1', [id])).toEqual([]);
  }, 60_000);
});
