/**
 * TLS, as nearly every real mailbox uses it: implicit TLS (`encryption: "ssl"`, imaps) and STARTTLS (`"tls"`) against
 * a Dovecot with a self-signed certificate. With IMAP_TLS_REJECT_UNAUTHORIZED=false both sync; with the default
 * (verify), the certificate is refused with a TLS error that says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type DovecotServer } from '../support/dovecot.js';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { receivedEvents } from '../support/sync.js';

let dovecot: DovecotServer;
let db: TestDatabase;
let lenient: TestServer;
let strict: TestServer;

beforeAll(async () => {
  dovecot = await startDovecot({ tls: true });
  db = await createTestDatabase();
  const env = { SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '600000', INCOMING_SECRET_KEY: 'cd'.repeat(32) };
  lenient = await startTestServer(db.url, { ...env, IMAP_TLS_REJECT_UNAUTHORIZED: 'false' });
  strict = await startTestServer(db.url, { ...env, SYNC_ENABLED: 'false' });
}, 60_000);
afterAll(async () => {
  await lenient?.close();
  await strict?.close();
  await dovecot?.stop();
  await db?.drop();
});

async function tlsAccount(srv: TestServer, encryption: 'ssl' | 'tls', active: boolean) {
  const creds = await dovecot.createUser();
  await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: `over ${encryption}` }));
  const r = await srv.api('/api/accounts', {
    method: 'POST',
    json: { name: `TLS ${encryption}`, email: `${creds.user}@example.com`, host: '127.0.0.1', port: encryption === 'ssl' ? dovecot.tlsPort : dovecot.port, username: creds.user, password: creds.password, encryption, is_active: active },
  });
  expect(r.status, r.text).toBe(201);
  return { creds, id: r.body.data.id as number };
}

describe('IMAP over TLS', () => {
  it('implicit TLS and STARTTLS both sync, and IDLE works over them', async () => {
    for (const encryption of ['ssl', 'tls'] as const) {
      const { creds, id } = await tlsAccount(lenient, encryption, true);
      await expectEventually(async () => expect(await receivedEvents(db.url, id)).toBe(1), { timeoutMs: 15_000, intervalMs: 100 });
      await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: `idle over ${encryption}` }));
      await expectEventually(async () => expect(await receivedEvents(db.url, id)).toBe(2), { timeoutMs: 10_000, intervalMs: 100 });
      expect((await lenient.api(`/api/accounts/${id}`)).body.data).toMatchObject({ connected: true, last_error: null });
    }
  }, 60_000);

  it('verifies certificates by default: a self-signed one is refused with a TLS error', async () => {
    for (const encryption of ['ssl', 'tls'] as const) {
      const { id } = await tlsAccount(strict, encryption, false);
      const t = await strict.api(`/api/accounts/${id}/test`, { method: 'POST' });
      expect(t.body.data.connected).toBe(false);
      expect(t.body.data.message).toMatch(/TLS|certificate/i);
      const s = await strict.api(`/api/accounts/${id}/sync`, { method: 'POST' });
      expect(s.status).toBe(502);
      expect(s.body.error).toMatch(/TLS|certificate/i);
    }
  }, 60_000);
});
