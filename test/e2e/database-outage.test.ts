/**
 * The database going away under a running server, mid-sync (a PostgreSQL restart: fast shutdown, which also ends every
 * open connection). Against a private PostgreSQL that this file stops and starts on the same port, and a private
 * Dovecot: the process stays up, the API answers 503 with Retry-After in its envelopes while the database is gone,
 * the account's session is stopped once its lease could lapse, and afterwards the sync resumes without losing or
 * duplicating anything, mail that arrived during the outage included, IDLE delivers new mail again, and a
 * subscription opened before the outage receives both, and so does a webhook. Then start-up without a database:
 * waiting, giving up; and the embedded PostgreSQL of the zero-setup default killed under the server: restarted.
 */
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { startDovecot, type DovecotServer } from '../support/dovecot.js';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { apiRequest, newCredentials, spawnServer, type SpawnedServer } from '../support/server.js';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { collect, connectWs } from '../support/ws.js';
import { expectInSync, receivedEvents, sql } from '../support/sync.js';

const log = pino({ level: 'warn' });
let dovecot: DovecotServer;
let pgDir: string;
let dataDir: string;
let pgPort: number;
let postgres: EmbeddedDatabase | null = null;
let server: SpawnedServer | undefined;
let receiver: WebhookReceiver;
/** The private cluster's URL (the same after every restart: same port, same password). */
let startedUrl = '';

beforeAll(async () => {
  dovecot = await startDovecot();
  receiver = await startReceiver();
  pgDir = await mkdtemp(path.join(os.tmpdir(), 'incoming-outage-pg-'));
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'incoming-outage-data-'));
  await chmod(pgDir, 0o711);
  await chmod(dataDir, 0o711);
  pgPort = await freePort();
  postgres = await startEmbeddedPostgres(pgDir, log, { port: pgPort });
  startedUrl = postgres.url;
}, 120_000);

afterAll(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  await postgres?.stop();
  await dovecot?.stop();
  await receiver?.close();
  await rm(pgDir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

describe('PostgreSQL restarted under a running server', () => {
  it('keeps the process up, answers 503 meanwhile, and resumes the sync with nothing lost or duplicated', async () => {
    const creds = await dovecot.createUser();
    for (let i = 0; i < 120; i++) {
      const attachments = i % 10 === 0 ? [{ filename: `f${i}.bin`, contentType: 'application/octet-stream', content: Buffer.alloc(150_000, i) }] : [];
      await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: `bulk ${i}`, text: `message ${i} `.repeat(200), attachments }), i % 3 ? [] : ['\\Seen']);
    }
    const key = newCredentials();
    const url = startedUrl;
    server = await spawnServer({
      DATABASE_URL: url, DATA_DIR: dataDir, INCOMING_API_KEY: key.key, INCOMING_API_SECRET: key.secret,
      SYNC_TICK_MS: '300', SYNC_LEASE_TTL_MS: '2000', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000', SYNC_POLL_INTERVAL_MS: '1000',
      WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_POLL_INTERVAL_MS: '1000', WEBHOOK_RETRY_DELAYS: '1,1,1,1,1,1',
    });
    const hook = await apiRequest(server.url, key, '/api/webhooks', { method: 'POST', json: { url: receiver.url, events: ['email.received'] } });
    expect(hook.status).toBe(201);
    receiver.secret = hook.body.data.secret;
    const created = await apiRequest(server.url, key, '/api/accounts', {
      method: 'POST',
      json: { name: 'Outage', email: `${creds.user}@example.com`, host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true },
    });
    expect(created.status).toBe(201);
    const id = created.body.data.id as number;
    // A realtime client connected before the outage keeps its subscription through it.
    const { client: ws } = await connectWs(server.url, key);
    const received = collect(ws, 'subscription($a: ID) { emailReceived(accountId: $a) { subject } }', { a: String(id) });
    await expectEventually(async () => expect(await receivedEvents(url, id)).toBeGreaterThan(10), { timeoutMs: 30_000, intervalMs: 10 });
    await expectEventually(() => expect(received.items.length).toBeGreaterThan(0), { timeoutMs: 10_000 });

    await postgres!.stop();
    postgres = null;
    const list = await apiRequest(server.url, key, '/api/emails?per_page=5');
    expect(list.status).toBe(503);
    expect(list.headers.get('retry-after')).toBe('5');
    expect(list.body).toEqual({ success: false, error: expect.stringMatching(/database is unavailable/) });
    const gql = await apiRequest(server.url, key, '/graphql', { method: 'POST', json: { query: '{ emails(perPage: 1) { totalCount } }' } });
    expect(gql.status).toBe(503);
    expect(gql.body.errors[0].extensions.code).toBe('SERVICE_UNAVAILABLE');
    expect((await apiRequest(server.url, false, '/readyz')).status).toBe(503);
    // WebSocket: a key that must be looked up is refused with 1013 (try again later), not 4401; a connected client's
    // new subscription gets SERVICE_UNAVAILABLE.
    const fresh = await connectWs(server.url, newCredentials());
    expect(fresh.outcome).toBe(1013);
    await fresh.client.dispose();
    const refused = collect(ws, 'subscription { emailReceived { subject } }');
    await refused.ended;
    expect(refused.errors).toMatchObject([{ extensions: { code: 'SERVICE_UNAVAILABLE' } }]);
    await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'arrived during the outage' }));
    // Longer than the lease: the session must stop before another instance could take the account.
    await expectEventually(() => expect(server!.output()).toContain('lease not renewed in time; stopping account session'), { timeoutMs: 10_000 });
    expect(server.child.exitCode).toBeNull();

    postgres = await startEmbeddedPostgres(pgDir, log, { port: pgPort });
    await expectEventually(async () => expectInSync(url, id, dovecot, creds, 'INBOX'), { timeoutMs: 60_000, intervalMs: 500 });
    expect(await receivedEvents(url, id)).toBe(121);
    expect(await sql(url, 'SELECT uid FROM emails WHERE account_id = $1 GROUP BY uid HAVING count(*) > 1', [id])).toEqual([]);
    expect((await apiRequest(server.url, key, '/api/emails?per_page=1')).body.meta.total).toBe(121);

    // IDLE again: a new message arrives without any request.
    await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'after the outage' }));
    await expectEventually(async () => expect(await receivedEvents(url, id)).toBe(122), { timeoutMs: 20_000, intervalMs: 100 });
    expect(server.child.exitCode).toBeNull();
    expect(server.output()).not.toMatch(/unhandled|Unhandled|uncaught/);
    await expectEventually(() => expect(received.items.map((i) => i.subject)).toEqual(expect.arrayContaining(['arrived during the outage', 'after the outage'])));
    expect(received.errors).toEqual([]);
    received.stop();
    await ws.dispose();
    // Webhooks too: one signed delivery per email, the outage's and the later one included.
    await expectEventually(() => {
      const subjects = receiver.received.filter((r) => r.verified).map((r) => r.json!.data.subject);
      expect(subjects).toEqual(expect.arrayContaining(['arrived during the outage', 'after the outage']));
      expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(122);
    }, { timeoutMs: 30_000, intervalMs: 200 });
  }, 180_000);
});

describe('PostgreSQL not reachable when the server starts', () => {
  it('waits for it (DATABASE_WAIT_MS) and starts once it answers', async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await postgres?.stop();
    postgres = null;
    const key = newCredentials();
    // Until the server has tried once, its database's port drops every connection (what a PostgreSQL still starting
    // up looks like from outside); then PostgreSQL starts there.
    let tried!: () => void;
    const firstAttempt = new Promise<void>((resolve) => (tried = resolve));
    const blocker = net.createServer((socket) => {
      socket.destroy();
      tried();
    });
    await new Promise<void>((resolve) => blocker.listen(pgPort, '127.0.0.1', resolve));
    const starting = spawnServer({ DATABASE_URL: startedUrl, DATA_DIR: dataDir, INCOMING_API_KEY: key.key, INCOMING_API_SECRET: key.secret, SYNC_ENABLED: 'false' });
    await firstAttempt;
    await new Promise((resolve) => blocker.close(resolve));
    postgres = await startEmbeddedPostgres(pgDir, log, { port: pgPort });
    server = await starting;
    expect(server.output()).toContain('waiting for the database');
    expect((await apiRequest(server.url, key, '/api/emails?per_page=1')).status).toBe(200);
  }, 120_000);

  it('gives up after DATABASE_WAIT_MS with a message naming the host and port', async () => {
    const port = await freePort();
    const failed = spawnServer({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/incoming`, DATA_DIR: dataDir, DATABASE_WAIT_MS: '1500' });
    await expect(failed).rejects.toThrow(new RegExp(`exited \\(1\\)[\\s\\S]*Cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port}[\\s\\S]*DATABASE_URL`));
  }, 60_000);
});

describe('the embedded PostgreSQL (no DATABASE_URL) killed under the server', () => {
  it('is restarted, and the server is ready again', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'incoming-embedded-kill-'));
    await chmod(dir, 0o711);
    const key = newCredentials();
    const embedded = await spawnServer({ DATA_DIR: dir, INCOMING_API_KEY: key.key, INCOMING_API_SECRET: key.secret, SYNC_ENABLED: 'false' });
    try {
      expect((await apiRequest(embedded.url, false, '/readyz')).status).toBe(200);
      const postmaster = Number((await readFile(path.join(dir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
      process.kill(postmaster, 'SIGKILL');
      await expectEventually(async () => expect((await apiRequest(embedded.url, false, '/readyz')).status).toBe(503), { timeoutMs: 5_000, intervalMs: 50 });
      await expectEventually(async () => expect((await apiRequest(embedded.url, false, '/readyz')).status).toBe(200), { timeoutMs: 30_000, intervalMs: 200 });
      expect((await apiRequest(embedded.url, key, '/api/emails')).status).toBe(200);
      expect(embedded.output()).toContain('embedded PostgreSQL restarted');
    } finally {
      embedded.child.kill('SIGTERM');
      await embedded.exited;
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
