/**
 * Sync under faults, each against its own private Dovecot (the shared one must not be killed): Dovecot killed
 * mid-sync, our process SIGKILLed mid-sync, stopped with SIGTERM mid-sync, and two instances competing for one
 * account.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateMailbox } from '../fixtures/messages.js';
import { startDovecot, type DovecotServer } from '../support/dovecot.js';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { fillMaildir } from '../support/maildir.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { apiRequest, newCredentials, spawnServer, startTestServer, type SpawnedServer } from '../support/server.js';
import { expectInSync, receivedEvents, sql } from '../support/sync.js';

let dovecot: DovecotServer;
let db: TestDatabase;
let dataDir: string;
const spawned: SpawnedServer[] = [];

async function fill(creds: { user: string; password: string }, n: number, withAttachments = true): Promise<void> {
  for (let i = 0; i < n; i++) {
    const attachments = withAttachments && i % 10 === 0 ? [{ filename: `f${i}.bin`, contentType: 'application/octet-stream', content: Buffer.alloc(200_000, i) }] : [];
    await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: `bulk ${i}`, text: `message ${i} `.repeat(200), attachments }), i % 3 ? [] : ['\\Seen']);
  }
}

function accountJson(creds: { user: string; password: string }, active: boolean) {
  return { name: 'Fault test', email: `${creds.user}@example.com`, host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: active };
}

/** A spawned server syncing a new active account for `creds`, once more than `stored` messages are in. */
async function midSync(creds: { user: string; password: string }, stored: number) {
  const key = newCredentials();
  const env = { DATABASE_URL: db.url, DATA_DIR: dataDir, INCOMING_API_KEY: key.key, INCOMING_API_SECRET: key.secret, SYNC_TICK_MS: '300', SYNC_LEASE_TTL_MS: '2000' };
  const first = await spawnServer(env);
  spawned.push(first);
  const r = await apiRequest(first.url, key, '/api/accounts', { method: 'POST', json: accountJson(creds, true) });
  const id = r.body.data.id as number;
  await expectEventually(async () => expect(await receivedEvents(db.url, id)).toBeGreaterThan(stored), { timeoutMs: 30_000, intervalMs: 10 });
  return { env, key, first, id };
}

beforeAll(async () => {
  dovecot = await startDovecot();
  db = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'incoming-faults-'));
  await chmod(dataDir, 0o711);
});
afterAll(async () => {
  for (const s of spawned) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await dovecot?.stop();
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('sync under faults', () => {
  it('Dovecot killed mid-sync and restarted: afterwards exactly the server messages, flags equal', async () => {
    const creds = await dovecot.createUser();
    await fill(creds, 150);
    const srv = await startTestServer(db.url, { SYNC_TICK_MS: '300', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000', SYNC_POLL_INTERVAL_MS: '1000' });
    try {
      const r = await srv.api('/api/accounts', { method: 'POST', json: accountJson(creds, true) });
      const id = r.body.data.id as number;
      await expectEventually(async () => expect(await receivedEvents(db.url, id)).toBeGreaterThan(0), { timeoutMs: 20_000, intervalMs: 20 });
      await dovecot.kill();
      await new Promise((res) => setTimeout(res, 500));
      await dovecot.restart();
      await expectEventually(async () => expectInSync(db.url, id, dovecot, creds, 'INBOX'), { timeoutMs: 30_000, intervalMs: 250 });
      expect(await receivedEvents(db.url, id)).toBe(150);
    } finally {
      await srv.close();
    }
  }, 90_000);

  it('our process SIGKILLed mid-sync and restarted: nothing missing, nothing duplicated', async () => {
    const creds = await dovecot.createUser();
    await fill(creds, 200);
    const { env, first, id } = await midSync(creds, 20);
    first.child.kill('SIGKILL');
    await first.exited;
    const partial = await receivedEvents(db.url, id);
    expect(partial).toBeLessThan(200);
    const second = await spawnServer(env);
    spawned.push(second);
    await expectEventually(async () => expectInSync(db.url, id, dovecot, creds, 'INBOX'), { timeoutMs: 60_000, intervalMs: 500 });
    expect(await receivedEvents(db.url, id)).toBe(200);
    const dupes = await sql(db.url, 'SELECT uid FROM emails WHERE account_id = $1 GROUP BY uid HAVING count(*) > 1', [id]);
    expect(dupes).toEqual([]);
    second.child.kill('SIGTERM');
    await second.exited;
  }, 120_000);

  it('SIGTERM mid-sync: the pass stops at once, a request waiting on it gets 503, exit 0; the restart completes it', async () => {
    const creds = await dovecot.createUser();
    await fillMaildir(dovecot.dir, creds.user, generateMailbox(1500, 21));
    const { env, key, first, id } = await midSync(creds, 100);
    const waiting = apiRequest(first.url, key, `/api/accounts/${id}/sync`, { method: 'POST' });
    await new Promise((res) => setTimeout(res, 500)); // joined to the running pass by then
    first.child.kill('SIGTERM');
    // Before, the drain waited for the whole pass (and a keep-alive connection) and hit SHUTDOWN_TIMEOUT_MS: exit 1.
    expect(await first.exited).toBe(0);
    const answer = await waiting;
    expect(answer.status).toBe(503);
    expect(answer.body.error).toMatch(/shutting down/);
    expect(await receivedEvents(db.url, id)).toBeLessThan(1500);
    expect(first.output()).not.toMatch(/graceful shutdown timed out/);
    const second = await spawnServer(env);
    spawned.push(second);
    await expectEventually(async () => expectInSync(db.url, id, dovecot, creds, 'INBOX'), { timeoutMs: 60_000, intervalMs: 500 });
    expect(await receivedEvents(db.url, id)).toBe(1500);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 120_000);

  it('two instances on one database never both open the same account; the survivor takes over', async () => {
    const creds = await dovecot.createUser();
    await fill(creds, 5, false);
    // Instances of one deployment share the secret key that seals IMAP passwords.
    const env = { SYNC_TICK_MS: '200', SYNC_LEASE_TTL_MS: '1500', SYNC_POLL_INTERVAL_MS: '1000', INCOMING_SECRET_KEY: 'ab'.repeat(32) };
    const a = await startTestServer(db.url, env);
    const b = await startTestServer(db.url, env);
    try {
      const r = await a.api('/api/accounts', { method: 'POST', json: accountJson(creds, true) });
      const id = r.body.data.id as number;
      await expectEventually(async () => expect(await receivedEvents(db.url, id)).toBe(5), { timeoutMs: 15_000 });
      for (let i = 0; i < 10; i++) {
        const owners = [a, b].filter((s) => s.server.engine.supervisor?.owned().includes(id));
        expect(owners.length).toBeLessThanOrEqual(1);
        const leases = await sql<{ owner: string }>(db.url, 'SELECT owner FROM sync_leases WHERE account_id = $1', [id]);
        expect(leases.length).toBe(1);
        await new Promise((res) => setTimeout(res, 200));
      }
      const owner = [a, b].find((s) => s.server.engine.supervisor?.owned().includes(id))!;
      const other = owner === a ? b : a;
      await owner.close();
      await expectEventually(async () => expect(other.server.engine.supervisor?.owned()).toContain(id), { timeoutMs: 10_000 });
      await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'after takeover' }));
      await expectEventually(async () => expect(await receivedEvents(db.url, id)).toBe(6), { timeoutMs: 15_000 });
    } finally {
      await a.close().catch(() => undefined);
      await b.close().catch(() => undefined);
    }
  }, 90_000);
});
