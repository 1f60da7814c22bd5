/**
 * Downloads when the blob store cannot be read although the file is there: the server's own, passing failure (here:
 * file descriptors exhausted, as under a burst of slow downloads) must be a 503 with Retry-After, never the 404 that
 * says the file is gone. A spawned server, whose descriptor limit is lowered from outside with prlimit(1).
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import { bytes } from '../fixtures/messages.js';
import { createDovecotUser } from '../support/dovecot.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { apiRequest, newCredentials, spawnServer, type Credentials, type SpawnedServer } from '../support/server.js';
import { sql } from '../support/sync.js';

const dovecot = inject('dovecot');
let db: TestDatabase;
let dataDir: string;
let srv: SpawnedServer | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'incoming-blob-faults-'));
  await chmod(dataDir, 0o711);
});
afterAll(async () => {
  if (srv && srv.child.exitCode === null) srv.child.kill('SIGKILL');
  await db?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

/** A GET on an already connected socket (a new connection would need a descriptor too); resolves with the reply. */
function get(socket: net.Socket, pathname: string, key: Credentials): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve) => {
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      const length = Number(/^content-length: *(\d+)/im.exec(buf)?.[1] ?? NaN);
      if (end !== -1 && buf.length >= end + 4 + length) {
        socket.removeAllListeners('data');
        resolve({ status: Number(buf.slice(9, 12)), head: buf.slice(0, end), body: buf.slice(end + 4) });
      }
    });
    socket.write(`GET ${pathname} HTTP/1.1\r\nHost: incoming\r\nX-API-Key: ${key.key}\r\nX-API-Secret: ${key.secret}\r\n\r\n`);
  });
}

/**
 * The lowest descriptor limit under which the process has no free descriptor left, once its descriptors stay the
 * same for a while (the file of the download before is closed just after its last byte is sent).
 */
async function exhaustedLimit(pid: number): Promise<number> {
  const list = async () => (await readdir(`/proc/${pid}/fd`)).map(Number).sort((a, b) => a - b).join(',');
  let open = await list();
  for (;;) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await list();
    if (now === open) break;
    open = now;
  }
  const fds = new Set(open.split(',').map(Number));
  let limit = 0;
  while (fds.has(limit)) limit++;
  return limit;
}

it('a blob that cannot be opened for want of descriptors is a 503 with Retry-After, and downloads work again after', async () => {
  const creds = await createDovecotUser(dovecot.dir);
  const content = bytes(5000, 61);
  await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'Fds', attachments: [{ filename: 'f.bin', contentType: 'application/octet-stream', content }] }));
  const key = newCredentials();
  srv = await spawnServer({ DATABASE_URL: db.url, DATA_DIR: dataDir, INCOMING_API_KEY: key.key, INCOMING_API_SECRET: key.secret, SYNC_ENABLED: 'false', LOG_LEVEL: 'warn' });
  const account = await apiRequest(srv.url, key, '/api/accounts', {
    method: 'POST',
    json: { name: 'Fds', email: `${creds.user}@example.com`, host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none' },
  });
  expect((await apiRequest(srv.url, key, `/api/accounts/${account.body.data.id}/sync`, { method: 'POST', json: {} })).status).toBe(200);
  const [attachment] = await sql<{ id: number }>(db.url, 'SELECT id FROM attachments', []);
  const url = `/api/attachments/${attachment!.id}/download`;
  // Enough pooled database connections for what follows, and a connection to send it on.
  await Promise.all(Array.from({ length: 6 }, () => apiRequest(srv!.url, key, `/api/attachments/${attachment!.id}`)));
  const socket = await new Promise<net.Socket>((resolve) => {
    const s = net.connect(Number(new URL(srv!.url).port), '127.0.0.1', () => resolve(s));
  });
  try {
    expect((await get(socket, url, key)).status).toBe(200);
    const pid = srv.child.pid!;
    execFileSync('prlimit', [`--pid=${pid}`, `--nofile=${await exhaustedLimit(pid)}:`]);
    const refused = await get(socket, url, key);
    execFileSync('prlimit', [`--pid=${pid}`, '--nofile=1024:']);
    expect(refused.status, refused.head).toBe(503);
    expect(refused.head).toMatch(/^retry-after: 5$/im);
    expect(JSON.parse(refused.body)).toEqual({ success: false, error: `Attachment ${attachment!.id} file cannot be read right now; retry in a moment` });
    const again = await get(socket, url, key);
    expect(again.status).toBe(200);
    expect(Buffer.from(again.body, 'latin1').equals(content)).toBe(true);
    expect(srv.output()).toMatch(/EMFILE[^\n]*attachment blob could not be opened|attachment blob could not be opened[^\n]*EMFILE/);
  } finally {
    socket.destroy();
  }
}, 60_000);
