/**
 * Webhook delivery across processes: two server instances on one database deliver each (webhook, event) exactly once,
 * and a server SIGKILLed while a receiver holds the response delivers the event after restart (pg-boss jobs are
 * durable; the expired attempt runs again with the same webhook-id).
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type DovecotServer } from '../support/dovecot.js';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { apiRequest, newCredentials, spawnServer, type SpawnedServer } from '../support/server.js';
import { sql } from '../support/sync.js';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

let dovecot: DovecotServer;
let db: TestDatabase;
let rx: WebhookReceiver;
const dirs: string[] = [];
const spawned: SpawnedServer[] = [];
const key = newCredentials();

async function instance(): Promise<SpawnedServer> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'incoming-wh-'));
  await chmod(dataDir, 0o711);
  dirs.push(dataDir);
  const s = await spawnServer({
    DATABASE_URL: db.url, DATA_DIR: dataDir, LOG_LEVEL: 'warn',
    INCOMING_API_KEY: key.key, INCOMING_API_SECRET: key.secret, INCOMING_SECRET_KEY: 'cd'.repeat(32),
    RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000',
    SYNC_TICK_MS: '300', SYNC_LEASE_TTL_MS: '2000', SYNC_POLL_INTERVAL_MS: '1000',
    WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_TIMEOUT_MS: '2000', WEBHOOK_RETRY_DELAYS: '1,1,1,1,1', WEBHOOK_POLL_INTERVAL_MS: '1000',
  });
  spawned.push(s);
  return s;
}

const api = (s: SpawnedServer, p: string, init?: Parameters<typeof apiRequest>[3]) => apiRequest(s.url, key, p, init);

async function createHook(s: SpawnedServer, events: string[]) {
  const r = await api(s, '/api/webhooks', { method: 'POST', json: { url: rx.url, events } });
  expect(r.status, r.text).toBe(201);
  rx.secret = r.body.data.secret;
  return r.body.data.id as number;
}

beforeAll(async () => {
  dovecot = await startDovecot();
  db = await createTestDatabase();
  rx = await startReceiver();
}, 60_000);
afterAll(async () => {
  for (const s of spawned) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await rx?.close();
  await dovecot?.stop();
  await db?.drop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('webhooks across instances', () => {
  it('two instances on one database: every (webhook, event) is delivered exactly once', async () => {
    // One after the other: concurrent first starts race on the bootstrap key (not what this test is about).
    const a = await instance();
    const b = await instance();
    const hookId = await createHook(a, ['email.received', 'email.updated']);
    const creds = await dovecot.createUser();
    const N = 20;
    for (let i = 0; i < N; i++) await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: `m${i}` }));
    const acc = await api(b, '/api/accounts', {
      method: 'POST',
      json: { name: 'Two', email: `${creds.user}@example.com`, host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true },
    });
    expect(acc.status, acc.text).toBe(201);
    let ids: number[] = [];
    await expectEventually(async () => {
      ids = (await sql<{ id: number }>(db.url, 'SELECT id FROM emails WHERE account_id = $1 ORDER BY id', [acc.body.data.id])).map((r) => r.id);
      expect(ids).toHaveLength(N);
    }, { timeoutMs: 30_000, intervalMs: 100 });
    // email.updated events written through both instances at once.
    await Promise.all(ids.map((id, i) => api(i % 2 ? a : b, `/api/emails/${id}`, { method: 'PATCH', json: { is_starred: true } })));
    await expectEventually(() => expect(rx.received.length).toBeGreaterThanOrEqual(2 * N), { timeoutMs: 30_000, intervalMs: 100 });
    await new Promise((r) => setTimeout(r, 2000)); // a duplicate would arrive within this
    expect(rx.received).toHaveLength(2 * N);
    expect(rx.received.every((r) => r.verified)).toBe(true);
    expect(new Set(rx.received.map((r) => r.headers['webhook-id'])).size).toBe(2 * N);
    const rows = await sql<{ status: string; attempt: number; n: string }>(
      db.url, 'SELECT status, attempt, count(*) AS n FROM webhook_deliveries WHERE webhook_id = $1 GROUP BY 1, 2', [hookId],
    );
    expect(rows).toEqual([{ status: 'delivered', attempt: 1, n: String(2 * N) }]);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);
    await sql(db.url, 'DELETE FROM webhooks');
  }, 120_000);

  it('server SIGKILLed while the receiver holds the response: delivered after restart, same webhook-id', async () => {
    rx.received.length = 0;
    const first = await instance();
    const hookId = await createHook(first, ['email.updated']);
    const creds = await dovecot.createUser();
    await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'kill me' }));
    const acc = await api(first, '/api/accounts', {
      method: 'POST',
      json: { name: 'Kill', email: `${creds.user}@example.com`, host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true },
    });
    let emailId = 0;
    await expectEventually(async () => {
      const rows = await sql<{ id: number }>(db.url, 'SELECT id FROM emails WHERE account_id = $1', [acc.body.data.id]);
      expect(rows).toHaveLength(1);
      emailId = rows[0]!.id;
    }, { timeoutMs: 20_000, intervalMs: 100 });

    rx.behave('hold');
    expect((await api(first, `/api/emails/${emailId}`, { method: 'PATCH', json: { is_read: true } })).status).toBe(200);
    await expectEventually(() => expect(rx.received).toHaveLength(1), { timeoutMs: 10_000, intervalMs: 50 });
    first.child.kill('SIGKILL');
    await first.exited;
    rx.behave({ status: 200, body: 'OK' });
    rx.release();

    const second = await instance();
    const heldId = rx.received[0]!.headers['webhook-id'];
    await expectEventually(async () => {
      const d = await sql<{ status: string }>(db.url, `SELECT status FROM webhook_deliveries WHERE webhook_id = $1 AND 'msg_' || webhook_id || '_' || event_id = $2`, [hookId, heldId]);
      expect(d).toEqual([{ status: 'delivered' }]);
    }, { timeoutMs: 40_000, intervalMs: 200 });
    // The held attempt died with the server; the same message (same webhook-id) was sent again and acknowledged.
    expect(rx.received.filter((r) => r.headers['webhook-id'] === heldId).length).toBeGreaterThanOrEqual(2);
    expect(rx.received.every((r) => r.verified)).toBe(true);
    second.child.kill('SIGTERM');
    await second.exited;
  }, 120_000);
});
