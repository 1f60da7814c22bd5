/**
 * Real-world MIME through the whole pipeline: messages as old and current mail clients write them, APPENDed to the
 * private Dovecot, synced, then read over REST and GraphQL as a reader of the message would expect to see them.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDovecotUser } from '../support/dovecot.js';
import { appendMessage } from '../support/imap.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sql } from '../support/sync.js';

const dovecot = inject('dovecot');
let db: TestDatabase;
let srv: TestServer;
let accountId: number;

/** A message from text whose `{hex}` runs are raw bytes, with CRLF line ends. */
function raw(text: string): Buffer {
  const latin1 = text.replace(/\r?\n/g, '\r\n').replace(/\{([0-9a-f]+)\}/g, (_m, h: string) => Buffer.from(h, 'hex').toString('latin1'));
  return Buffer.from(latin1, 'latin1');
}

const CORPUS: Record<string, Buffer> = {
  // The Bat! / Outlook Express era: Subject and display names as raw KOI8-R bytes, no encoded words.
  koi8r: raw(
    'From: {e9d7c1ce20f0c5d4d2cfd7} <ivan@example.ru>\nTo: {edc1d2c9d1} <maria@example.ru>\nSubject: {f0d2c9d7c5d420c9da20edcfd3cbd7d9}\n' +
      'Date: Mon, 3 Mar 2025 10:00:00 +0300\nMessage-ID: <koi8r@example.ru>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=koi8-r\n' +
      'Content-Transfer-Encoding: 8bit\n\n{f4c5cbd3d4}\n',
  ),
};

async function email(messageId: string) {
  const [row] = await sql<{ id: number }>(db.url, 'SELECT id FROM emails WHERE account_id = $1 AND message_id = $2', [accountId, messageId]);
  expect(row, messageId).toBeDefined();
  const r = await srv.api(`/api/emails/${row!.id}`);
  expect(r.status, r.text).toBe(200);
  return r.body.data;
}

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { SYNC_ENABLED: 'false', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000' });
  const me = await createDovecotUser(dovecot.dir);
  for (const message of Object.values(CORPUS)) await appendMessage(dovecot, me, 'INBOX', message);
  const r = await srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'MIME corpus', email: `${me.user}@example.com`, host: dovecot.host, port: dovecot.port, username: me.user, password: me.password, encryption: 'none' },
  });
  expect(r.status, r.text).toBe(201);
  accountId = r.body.data.id;
  const s = await srv.api(`/api/accounts/${accountId}/sync`, { method: 'POST', json: {} });
  expect(s.body.data, s.text).toMatchObject({ new: Object.keys(CORPUS).length, failed: 0 });
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

describe('headers', () => {
  it('raw KOI8-R Subject and names are read in the charset the message declares (REST, /raw and GraphQL)', async () => {
    const e = await email('koi8r@example.ru');
    expect(e).toMatchObject({ subject: 'Привет из Москвы', from_name: 'Иван Петров', from_address: 'ivan@example.ru', to_addresses: [{ email: 'maria@example.ru', name: 'Мария' }], body_text: 'Текст\n' });
    const rawView = await srv.api(`/api/emails/${e.id}/raw`);
    expect(rawView.body.data.headers).toMatchObject({ Subject: 'Привет из Москвы', From: 'Иван Петров <ivan@example.ru>' });
    const g = await srv.api('/graphql', { method: 'POST', json: { query: `{ email(id: ${e.id}) { subject fromName } }` } });
    expect(g.body.data.email).toEqual({ subject: 'Привет из Москвы', fromName: 'Иван Петров' });
    const search = await srv.api(`/api/emails?subject=${encodeURIComponent('Москвы')}`);
    expect(search.body.data.map((x: { id: number }) => x.id)).toEqual([e.id]);
  });
});
