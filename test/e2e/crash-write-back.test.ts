/**
 * Crashes on the write paths of local changes, with a spawned server SIGKILLed: in the middle of a 1,000-id bulk
 * mark_read (each email either changed with its write-back queued, or untouched), and while the drain writes the
 * queue to the IMAP server. After a restart the server's flags converge to the database and the queue empties.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDovecot, type DovecotServer } from '../support/dovecot.js';
import { expectEventually } from '../support/eventually.js';
import { buildMessage, toCrlf } from '../support/imap.js';
import { fillMaildir } from '../support/maildir.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { apiRequest, newCredentials, spawnServer, type SpawnedServer } from '../support/server.js';
import { expectInSync, serverView, sql } from '../support/sync.js';

let dovecot: DovecotServer;
let db: TestDatabase;
let dataDir: string;
const spawned: SpawnedServer[] = [];
const key = newCredentials();
const N = 1000;

beforeAll(async () => {
  dovecot = await startDovecot();
  db = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'incoming-crash-wb-'));
  await chmod(dataDir, 0o711);
}, 60_000);
afterAll(async () => {
  for (const s of spawned) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await dovecot?.stop();
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

async function start(): Promise<SpawnedServer> {
  const s = await spawnServer({
    DATABASE_URL: db.url, DATA_DIR: dataDir, LOG_LEVEL: 'warn', INCOMING_API_KEY: key.key, INCOMING_API_SECRET: key.secret,
    RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000',
    SYNC_TICK_MS: '300', SYNC_LEASE_TTL_MS: '2000', SYNC_POLL_INTERVAL_MS: '1000', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000',
  });
  spawned.push(s);
  return s;
}

async function kill(s: SpawnedServer): Promise<void> {
  s.child.kill('SIGKILL');
  await s.exited;
}

/** Runs `statement` on a connection of its own (in a transaction unless `tx` is false), kept until `release()`. */
async function pgLock(statement: string, params: unknown[], tx = true): Promise<{ release: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  if (tx) await client.query('BEGIN');
  await client.query(statement, params);
  return { release: async () => void (await client.end()) };
}

/** Holds the row lock of one email until `release()`. */
const lockEmail = (id: number) => pgLock('SELECT 1 FROM emails WHERE id = $1 FOR UPDATE', [id]);

/** Until a backend waits for a row lock (not an advisory lock). */
async function waitForRowLockWait(what: string): Promise<void> {
  await expectEventually(async () => {
    const rows = await sql(db.url, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event IN ('transactionid', 'tuple')");
    expect(rows.length, `${what} waits for the row lock`).toBeGreaterThan(0);
  }, { timeoutMs: 20_000, intervalMs: 20 });
}

/** Every email read locally has its \Seen on the server or a write-back queued for it; every unread one neither. */
async function expectQueuedOrDone(accountId: number, creds: { user: string; password: string }): Promise<{ read: number; queued: number }> {
  const view = await serverView(dovecot, creds, 'INBOX');
  const seen = new Set(view.messages.filter((m) => m.flags.includes('\\Seen')).map((m) => m.uid));
  const rows = await sql<{ uid: string; is_read: boolean; queued: boolean }>(
    db.url,
    `SELECT e.uid, e.is_read, EXISTS (SELECT 1 FROM write_backs w WHERE w.email_id = e.id AND w.action = 'seen' AND w.status = 'pending') AS queued
     FROM emails e WHERE e.account_id = $1`,
    [accountId],
  );
  expect(rows).toHaveLength(N);
  const wrong = rows.filter((r) => (r.is_read ? !(r.queued || seen.has(Number(r.uid))) : r.queued || seen.has(Number(r.uid))));
  expect(wrong).toEqual([]);
  return { read: rows.filter((r) => r.is_read).length, queued: rows.filter((r) => r.queued).length };
}

it('SIGKILL mid bulk mark_read and mid drain: each email done and queued or untouched; the server converges after restart', async () => {
  const creds = await dovecot.createUser();
  await fillMaildir(dovecot.dir, creds.user, Array.from({ length: N }, (_, i) => toCrlf(buildMessage({ subject: `m ${i}` }))));
  let srv = await start();
  const created = await apiRequest(srv.url, key, '/api/accounts', {
    method: 'POST',
    json: { name: 'Crash', email: `${creds.user}@example.com`, host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true },
  });
  expect(created.status, created.text).toBe(201);
  const accountId = created.body.data.id as number;
  await expectEventually(async () => {
    const [r] = await sql<{ n: string }>(db.url, 'SELECT count(*) AS n FROM emails WHERE account_id = $1', [accountId]);
    expect(Number(r!.n)).toBe(N);
  }, { timeoutMs: 60_000, intervalMs: 200 });
  const ids = (await sql<{ id: number }>(db.url, 'SELECT id FROM emails WHERE account_id = $1 ORDER BY id', [accountId])).map((r) => r.id);

  // 1. Killed inside the bulk's transaction: it waits for the row lock of the last email, held here.
  const last = ids[ids.length - 1]!;
  let held = await lockEmail(last);
  const request = apiRequest(srv.url, key, '/api/emails/bulk', { method: 'POST', json: { ids, action: 'mark_read' } }).catch(() => null);
  await waitForRowLockWait('the bulk change');
  await kill(srv);
  await held.release();
  await request;
  expect(await expectQueuedOrDone(accountId, creds)).toEqual({ read: 0, queued: 0 });

  // 2. Restarted, the change made again, and the server killed after its drain's STORE, before the queue rows are
  // removed: the drain waits for the account's sync lock while the first email's row lock is taken here, then its
  // last transaction waits for that row lock.
  srv = await start();
  const syncLock = await pgLock('SELECT pg_advisory_lock(7101, $1)', [accountId], false);
  const bulk = await apiRequest(srv.url, key, '/api/emails/bulk', { method: 'POST', json: { ids: ids.slice(0, -1), action: 'mark_read' } });
  expect(bulk.status, bulk.text).toBe(200);
  held = await lockEmail(ids[0]!);
  await syncLock.release();
  await waitForRowLockWait('the write-back drain');
  await kill(srv);
  await held.release();
  const view = await serverView(dovecot, creds, 'INBOX');
  expect(view.messages.filter((m) => m.flags.includes('\\Seen'))).toHaveLength(N - 1);
  expect(await expectQueuedOrDone(accountId, creds)).toEqual({ read: N - 1, queued: N - 1 });

  // 3. After a restart the queue drains and the server has every change.
  srv = await start();
  await expectEventually(async () => {
    const [c] = await sql<{ n: string }>(db.url, 'SELECT count(*) AS n FROM write_backs WHERE account_id = $1', [accountId]);
    expect(Number(c!.n)).toBe(0);
  }, { timeoutMs: 60_000, intervalMs: 200 });
  await expectInSync(db.url, accountId, dovecot, creds, 'INBOX');
  const unread = await sql(db.url, 'SELECT id FROM emails WHERE account_id = $1 AND (NOT is_read OR sync_error IS NOT NULL)', [accountId]);
  expect(unread).toEqual([{ id: last }]);
  srv.child.kill('SIGTERM');
  await srv.exited;
}, 180_000);
