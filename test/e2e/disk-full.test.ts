/**
 * DATA_DIR full (ENOSPC) during ingest: a small tmpfs as DATA_DIR. The account reports the local storage failure
 * (not an IMAP error), nothing half-stored is left, and the sync resumes by itself once there is space again. Mounting
 * the tmpfs needs root, as CI runs the tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bytes } from '../fixtures/messages.js';
import { startDovecot, type DovecotServer } from '../support/dovecot.js';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { expectInSync, sql } from '../support/sync.js';

let dovecot: DovecotServer;
let db: TestDatabase;
let srv: TestServer | undefined;
let mnt: string;

beforeAll(async () => {
  dovecot = await startDovecot();
  db = await createTestDatabase();
  mnt = await mkdtemp(path.join(os.tmpdir(), 'incoming-enospc-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0711', 'tmpfs', mnt]);
}, 60_000);
afterAll(async () => {
  await srv?.close().catch(() => undefined);
  execFileSync('umount', ['-l', mnt]);
  await rm(mnt, { recursive: true, force: true });
  await dovecot?.stop();
  await db?.drop();
});

it('a full DATA_DIR: the account says so, and the sync resumes once there is space', async () => {
  const creds = await dovecot.createUser();
  await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'small before' }));
  await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'big', attachments: [{ filename: 'big.bin', contentType: 'application/octet-stream', content: bytes(2_000_000, 7) }] }));
  await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'small after' }));
  srv = await startTestServer(db.url, {
    DATA_DIR: mnt, SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_LEASE_TTL_MS: '3000', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000',
  });
  const r = await srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'Full', email: `${creds.user}@example.com`, host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true },
  });
  expect(r.status, r.text).toBe(201);
  const id = r.body.data.id as number;
  const storageFailure = /^Sync failed: Local storage failed \(DATA_DIR\): .*ENOSPC: no space left on device/;
  await expectEventually(async () => {
    expect((await srv!.api(`/api/accounts/${id}`)).body.data.last_error).toMatch(storageFailure);
  }, { timeoutMs: 20_000, intervalMs: 200 });
  const sync = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: {} });
  expect(sync.status, sync.text).toBe(503);
  expect(sync.body.error).toMatch(storageFailure);
  // Nothing references a blob that is not there, and no partial file stays behind.
  expect(await sql(db.url, 'SELECT id FROM attachments')).toEqual([]);
  expect(await readdir(path.join(mnt, 'blobs', 'tmp')).catch(() => [])).toEqual([]);
  execFileSync('mount', ['-o', 'remount,size=20m', mnt]);
  await expectEventually(async () => {
    const rows = await sql<{ subject: string }>(db.url, 'SELECT subject FROM emails WHERE account_id = $1 ORDER BY uid', [id]);
    expect(rows.map((x) => x.subject)).toEqual(['small before', 'big', 'small after']);
    expect((await srv!.api(`/api/accounts/${id}`)).body.data.last_error).toBeNull();
  }, { timeoutMs: 30_000, intervalMs: 200 });
  const [attachment] = await sql<{ id: number }>(db.url, 'SELECT id FROM attachments');
  const download = await fetch(`${srv.url}/api/attachments/${attachment!.id}/download`, { headers: { 'x-api-key': srv.key, 'x-api-secret': srv.secret } });
  expect(Buffer.from(await download.arrayBuffer()).equals(bytes(2_000_000, 7))).toBe(true);
  await expectInSync(db.url, id, dovecot, creds, 'INBOX');
}, 90_000);
