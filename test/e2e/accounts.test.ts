/** Seed 000 "Mail Accounts" over real HTTP against a private Dovecot and real PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import pg from 'pg';
import { createDovecotUser } from '../support/dovecot.js';
import { appendMessage, buildMessage, createFolder } from '../support/imap.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { freePort } from '../../src/db/embedded.js';

const dovecot = inject('dovecot');
let db: TestDatabase;
let srv: TestServer;
let mailbox: { user: string; password: string };

function accountBody(overrides: Record<string, unknown> = {}) {
  return {
    name: 'Support inbox',
    email: `${mailbox.user}@example.com`,
    host: dovecot.host,
    port: dovecot.port,
    username: mailbox.user,
    password: mailbox.password,
    encryption: 'none',
    ...overrides,
  };
}

async function createAccount(overrides: Record<string, unknown> = {}): Promise<number> {
  const r = await srv.api('/api/accounts', { method: 'POST', json: accountBody(overrides) });
  expect(r.status, r.text).toBe(201);
  return r.body.data.id as number;
}

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url);
  mailbox = await createDovecotUser(dovecot.dir);
  await createFolder(dovecot, mailbox, 'Projects');
  await appendMessage(dovecot, mailbox, 'INBOX', buildMessage({ subject: 'one' }));
  await appendMessage(dovecot, mailbox, 'INBOX', buildMessage({ subject: 'two' }), ['\\Seen']);
  await appendMessage(dovecot, mailbox, 'Projects', buildMessage({ subject: 'three' }));
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

describe('POST /api/accounts', () => {
  it('creates with documented defaults and never returns the password', async () => {
    const r = await srv.api('/api/accounts', { method: 'POST', json: { ...accountBody(), encryption: undefined, port: 993, email: 'defaults@example.com' } });
    expect(r.status).toBe(201);
    expect(r.body.success).toBe(true);
    expect(r.body.data).toMatchObject({
      id: expect.any(Number),
      name: 'Support inbox',
      encryption: 'ssl',
      is_active: false,
      sync_folders: ['INBOX'],
      connected: false,
    });
    expect(r.text).not.toContain(mailbox.password);
    expect(r.body.data).not.toHaveProperty('password');
  });

  it('stores the password encrypted at rest', async () => {
    const id = await createAccount({ email: 'sealed@example.com' });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const row = await client.query('SELECT password_sealed FROM accounts WHERE id = $1', [id]);
      expect(row.rows[0].password_sealed).toMatch(/^v1:/);
      expect(row.rows[0].password_sealed).not.toContain(mailbox.password);
    } finally {
      await client.end();
    }
  });

  it('validates every documented rule, naming the fields', async () => {
    const r = await srv.api('/api/accounts', {
      method: 'POST',
      json: { ...accountBody(), name: 'x', email: 'not-an-email', port: 70000, encryption: 'starttls', sync_folders: [] },
    });
    expect(r.status).toBe(400);
    for (const field of ['name', 'email', 'port']) expect(r.body.error).toContain(field);
    const r2 = await srv.api('/api/accounts', { method: 'POST', json: { ...accountBody(), encryption: 'starttls', sync_folders: [] } });
    expect(r2.status).toBe(400);
    expect(r2.body.error).toContain('encryption');
    expect(r2.body.error).toContain('sync_folders');
    const missing = await srv.api('/api/accounts', { method: 'POST', json: { name: 'Only a name' } });
    expect(missing.status).toBe(400);
    for (const field of ['email', 'host', 'port', 'username', 'password']) expect(missing.body.error).toContain(field);
    const typo = await srv.api('/api/accounts', { method: 'POST', json: { ...accountBody(), is_actve: true } });
    expect(typo.status).toBe(400);
    expect(typo.body.error).toContain('is_actve');
    const wrongType = await srv.api('/api/accounts', { method: 'POST', json: { ...accountBody(), is_active: 'maybe' } });
    expect(wrongType.status).toBe(400);
    // A required field left out: named, and the rest of the body (its password) never echoed.
    for (const field of ['name', 'email', 'host', 'port', 'username']) {
      const body: Record<string, unknown> = { ...accountBody(), password: 'SuperSecretPw' };
      delete body[field];
      const r = await srv.api('/api/accounts', { method: 'POST', json: body });
      expect(r.status, r.text).toBe(400);
      expect(r.body.error).toContain(`${field}: is required`);
      expect(r.text).not.toContain('SuperSecretPw');
    }
    const blank = await srv.api('/api/accounts', { method: 'POST', json: { ...accountBody(), username: ' ', sync_folders: ['INBOX', 'INBOX', ' '] } });
    expect(blank.status).toBe(400);
    for (const text of ['username: is required', 'sync_folders: lists a folder twice', 'sync_folders.2: folder names must not be blank']) expect(blank.body.error).toContain(text);
  });

  it('a duplicate (same email + host + username) is 409', async () => {
    await createAccount({ email: 'dup@example.com' });
    const r = await srv.api('/api/accounts', { method: 'POST', json: accountBody({ email: 'dup@example.com' }) });
    expect(r.status).toBe(409);
    expect(r.body).toEqual({ success: false, error: expect.stringContaining('already exists') });
  });

  it('test_connection refuses to save when the test fails, saves when it passes', async () => {
    const bad = await srv.api('/api/accounts', {
      method: 'POST',
      json: accountBody({ email: 'tc@example.com', password: 'wrong', test_connection: true }),
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toMatch(/Authentication failed/);
    const list = await srv.api('/api/accounts');
    expect(list.body.data.some((a: { email: string }) => a.email === 'tc@example.com')).toBe(false);
    const good = await srv.api('/api/accounts', { method: 'POST', json: accountBody({ email: 'tc@example.com', test_connection: true, is_active: true }) });
    expect(good.status).toBe(201);
    expect(good.body.data.is_active).toBe(true);
  });
});

describe('account connection and folders', () => {
  it('POST /api/accounts/{id}/test → connected with folders; wrong password → connected false with the reason', async () => {
    const id = await createAccount({ email: 'test@example.com' });
    const ok = await srv.api(`/api/accounts/${id}/test`, { method: 'POST' });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ success: true, data: { connected: true, folders: expect.arrayContaining(['INBOX', 'Projects']), message: 'Connection successful' } });
    const put = await srv.api(`/api/accounts/${id}`, { method: 'PUT', json: { password: 'wrong-password' } });
    expect(put.status).toBe(200);
    const bad = await srv.api(`/api/accounts/${id}/test`, { method: 'POST' });
    expect(bad.status).toBe(200);
    expect(bad.body.data).toEqual({ connected: false, folders: [], message: expect.stringContaining('Authentication failed') });
    const after = await srv.api(`/api/accounts/${id}`);
    expect(after.body.data.connected).toBe(false);
    expect(after.body.data.last_error).toContain('Authentication failed');
  });

  it('refused connections and DNS failures are explained, not 500s', async () => {
    const closedPort = await freePort();
    const id = await createAccount({ email: 'refused@example.com', port: closedPort });
    const r = await srv.api(`/api/accounts/${id}/test`, { method: 'POST' });
    expect(r.body.data).toMatchObject({ connected: false, message: expect.stringContaining('Connection refused') });
    const dns = await createAccount({ email: 'dns@example.com', host: 'no-such-host.invalid' });
    const d = await srv.api(`/api/accounts/${dns}/test`, { method: 'POST' });
    expect(d.body.data).toMatchObject({ connected: false, message: expect.stringContaining('DNS lookup failed') });
    const tls = await createAccount({ email: 'tls@example.com', encryption: 'ssl' });
    const t = await srv.api(`/api/accounts/${tls}/test`, { method: 'POST' });
    expect(t.body.data.connected).toBe(false);
    const folders = await srv.api(`/api/accounts/${id}/folders`);
    expect(folders.status).toBe(502);
    expect(folders.body.error).toContain('Connection refused');
  });

  it('GET /api/accounts/{id}/folders lists name, path, messages, unseen from STATUS', async () => {
    const id = await createAccount({ email: 'folders@example.com' });
    const r = await srv.api(`/api/accounts/${id}/folders`);
    expect(r.status).toBe(200);
    const inbox = r.body.data.find((f: { path: string }) => f.path === 'INBOX');
    expect(inbox).toEqual({ name: 'INBOX', path: 'INBOX', messages: 2, unseen: 1 });
    expect(r.body.data).toContainEqual({ name: 'Projects', path: 'Projects', messages: 1, unseen: 1 });
  });
});

describe('read, update, delete', () => {
  it('GET /api/accounts (include_stats) and GET /api/accounts/{id} with statistics', async () => {
    const id = await createAccount({ email: 'read@example.com' });
    const plain = await srv.api('/api/accounts');
    expect(plain.body.data.find((a: { id: number }) => a.id === id)).not.toHaveProperty('stats');
    const withStats = await srv.api('/api/accounts?include_stats=1');
    expect(withStats.body.data.find((a: { id: number }) => a.id === id).stats).toEqual({
      total_emails: 0, unread_emails: 0, with_attachments: 0, by_folder: [], latest_email_at: null, oldest_email_at: null,
    });
    const one = await srv.api(`/api/accounts/${id}`);
    expect(one.body.data).toMatchObject({ id, email: 'read@example.com', host: dovecot.host, port: dovecot.port, stats: { total_emails: 0 } });
    const stats = await srv.api(`/api/accounts/${id}/stats`);
    expect(stats.body).toEqual({
      success: true,
      data: { total_emails: 0, unread_emails: 0, with_attachments: 0, by_folder: [], latest_email_at: null, oldest_email_at: null },
    });
    expect((await srv.api('/api/accounts?include_stats=maybe')).status).toBe(400);
  });

  it('PUT changes only the given fields; the password only when given', async () => {
    const id = await createAccount({ email: 'put@example.com' });
    const r = await srv.api(`/api/accounts/${id}`, { method: 'PUT', json: { name: 'Renamed', sync_folders: ['Inbox', 'Projects'], is_active: true } });
    expect(r.status).toBe(200);
    expect(r.body.data).toMatchObject({ name: 'Renamed', sync_folders: ['INBOX', 'Projects'], is_active: true, email: 'put@example.com' });
    const t = await srv.api(`/api/accounts/${id}/test`, { method: 'POST' });
    expect(t.body.data.connected).toBe(true);
    expect((await srv.api(`/api/accounts/${id}`, { method: 'PUT', json: { port: 0 } })).status).toBe(400);
    expect((await srv.api('/api/accounts/999999', { method: 'PUT', json: { name: 'Nope' } })).status).toBe(404);
  });

  it('DELETE removes the account', async () => {
    const id = await createAccount({ email: 'delete@example.com' });
    const r = await srv.api(`/api/accounts/${id}?delete_emails=1`, { method: 'DELETE' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ success: true, message: 'Account deleted' });
    expect((await srv.api(`/api/accounts/${id}`)).status).toBe(404);
    expect((await srv.api(`/api/accounts/${id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('a key scoped to some accounts sees only those (404 for the others) and cannot create', async () => {
    const mine = await createAccount({ email: 'scope-mine@example.com' });
    const other = await createAccount({ email: 'scope-other@example.com' });
    const k = await srv.api('/graphql', {
      method: 'POST',
      json: { query: `mutation { createApiKey(input: {name: "scoped", permissions: ["read", "write"], accountIds: [${mine}]}) { secret key { publicKey } } }` },
    });
    const creds = { key: k.body.data.createApiKey.key.publicKey, secret: k.body.data.createApiKey.secret };
    const list = await srv.api('/api/accounts', { auth: creds });
    expect(list.body.data.map((a: { id: number }) => a.id)).toEqual([mine]);
    expect((await srv.api(`/api/accounts/${other}`, { auth: creds })).status).toBe(404);
    expect((await srv.api(`/api/accounts/${other}`, { method: 'DELETE', auth: creds })).status).toBe(404);
    expect((await srv.api('/api/accounts', { method: 'POST', auth: creds, json: accountBody({ email: 'x@example.com' }) })).status).toBe(403);
  });
});
