/**
 * A known mailbox for the emails read API tests: messages put into the private Dovecot with chosen INTERNALDATEs
 * (received_at) and flags, then synced through the API. French and English content, a thread, attachments, an inline
 * image referenced by cid: and hostile HTML.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { createDovecotUser } from './dovecot.js';
import { buildMessage, createFolder, toCrlf, withImap, type ImapCreds, type ImapServer } from './imap.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';
import { startTestServer, type Credentials, type TestServer } from './server.js';

export const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

/** A multipart/related message: hostile HTML referencing an inline PNG by Content-ID. */
export function inlineHtmlMessage(date: Date): string {
  return [
    'From: Newsletter <news@letters.test>',
    'To: Bob Receiver <bob@example.com>',
    'Subject: Newsletter with logo',
    `Date: ${date.toUTCString()}`,
    'Message-ID: <newsletter-1@letters.test>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/related; boundary="REL"',
    '',
    '--REL',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p onclick="steal()">Our logo <img src="cid:Logo123"><script>alert(1)</script><a href="javascript:alert(2)">click</a></p>',
    '--REL',
    'Content-Type: image/png',
    'Content-Transfer-Encoding: base64',
    'Content-ID: <logo123>',
    'Content-Disposition: inline; filename="logo.png"',
    '',
    PNG_B64,
    '--REL--',
    '',
  ].join('\r\n');
}

/** APPENDs with an explicit INTERNALDATE (what the sync stores as received_at). */
export async function putMail(server: ImapServer, creds: ImapCreds, folder: string, raw: string, date: Date, flags: string[] = []): Promise<void> {
  await withImap(server, creds, async (c) => {
    await c.append(folder, toCrlf(raw), flags, date);
  });
}

export async function createAccount(srv: TestServer, server: ImapServer, creds: ImapCreds, syncFolders = ['INBOX', 'Archive']): Promise<number> {
  const r = await srv.api('/api/accounts', {
    method: 'POST',
    json: { name: `Read ${creds.user}`, email: `${creds.user}@example.com`, host: server.host, port: server.port, username: creds.user, password: creds.password, encryption: 'none', sync_folders: syncFolders },
  });
  expect(r.status, r.text).toBe(201);
  return r.body.data.id as number;
}

export async function syncAccount(srv: TestServer, id: number): Promise<void> {
  const r = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: {} });
  expect(r.status, r.text).toBe(200);
}

export const day = (s: string) => new Date(`${s}Z`);

export interface Fixture {
  accountA: number;
  accountB: number;
  mailboxA: ImapCreds;
  mailboxB: ImapCreds;
  /** email id by subject (account A, plus "Secret B" of account B). */
  ids: Record<string, number>;
}

/** Subjects of the seven "Bulk" messages, which all share one INTERNALDATE (ties broken by id). */
export const BULK = Array.from({ length: 7 }, (_, i) => `Bulk ${i}`);

/** Account A: 12 messages in INBOX + 1 in Archive; account B: 1 message. Returns ids by subject. */
export async function seedMailboxes(srv: TestServer, dovecot: ImapServer & { dir: string }): Promise<Fixture> {
  const mailboxA = await createDovecotUser(dovecot.dir);
  const mailboxB = await createDovecotUser(dovecot.dir);
  await createFolder(dovecot, mailboxA, 'Archive');
  const put = (raw: string, date: string, flags: string[] = [], folder = 'INBOX') => putMail(dovecot, mailboxA, folder, raw, day(date), flags);
  await put(
    buildMessage({ subject: "Facture de l'été", from: 'Jöhn Doe <john@example.com>', text: "Bonjour, voici la facture pour l'été. Montant : 100 EUR.", date: day('2024-01-10T09:00:00') }),
    '2024-01-10T09:00:00',
    ['\\Seen'],
  );
  await put(
    buildMessage({
      subject: 'Invoice 2024-002',
      from: 'Billing Team <billing@acme.test>',
      text: 'Please find the invoice attached. Regards, ACME',
      messageId: 'invoice-2@acme.test',
      attachments: [{ filename: 'Invoice-2024.pdf', contentType: 'application/pdf', content: Buffer.from('%PDF-1.4 fake') }],
    }),
    '2024-01-15T12:00:00',
  );
  await put(
    buildMessage({
      subject: 'Re: Invoice 2024-002',
      from: 'Bob Receiver <bob@example.com>',
      to: 'Billing Team <billing@acme.test>',
      text: 'Thanks, paid today.',
      headers: { 'In-Reply-To': '<invoice-2@acme.test>', References: '<invoice-2@acme.test>' },
    }),
    '2024-01-16T08:30:00',
    ['\\Seen', '\\Flagged'],
  );
  await put(inlineHtmlMessage(day('2024-01-20T10:00:00')), '2024-01-20T10:00:00');
  for (const s of BULK) await put(buildMessage({ subject: s, from: `Sender ${s} <bulk@mass.test>`, text: `Bulk body ${s}` }), '2024-01-25T00:00:00');
  await put(buildMessage({ subject: 'Late night 100%_done', text: 'Last minute of the day' }), '2024-01-31T23:59:59');
  await put(buildMessage({ subject: 'Archived note', text: 'Old stuff' }), '2024-02-01T00:00:00', ['\\Seen'], 'Archive');
  await putMail(dovecot, mailboxB, 'INBOX', buildMessage({ subject: 'Secret B', text: 'facture secrète' }), day('2024-01-12T00:00:00'));

  const accountA = await createAccount(srv, dovecot, mailboxA);
  const accountB = await createAccount(srv, dovecot, mailboxB, ['INBOX']);
  await syncAccount(srv, accountA);
  await syncAccount(srv, accountB);
  const all = await srv.api('/api/emails?per_page=100');
  expect(all.status, all.text).toBe(200);
  const ids = Object.fromEntries((all.body.data as { subject: string; id: number }[]).map((e) => [e.subject, e.id]));
  return { accountA, accountB, mailboxA, mailboxB, ids };
}

/** Creates a key limited to `accountIds` through GraphQL. */
export async function scopedKey(srv: TestServer, accountIds: number[]): Promise<Credentials> {
  const k = await srv.api('/graphql', {
    method: 'POST',
    json: { query: `mutation { createApiKey(input: {name: "scoped", permissions: ["read"], accountIds: [${accountIds.join(',')}]}) { secret key { publicKey } } }` },
  });
  expect(k.status, k.text).toBe(200);
  return { key: k.body.data.createApiKey.key.publicKey, secret: k.body.data.createApiKey.secret };
}

export interface SeededServer {
  db: TestDatabase;
  srv: TestServer;
  fx: Fixture;
}

/**
 * Registers beforeAll/afterAll for a test file: a fresh database, the server (no background sync, rate limits out of
 * the way) and the seeded mailboxes. The returned object is filled in by beforeAll.
 */
export function useSeededServer(dovecot: ImapServer & { dir: string }): SeededServer {
  const t = {} as SeededServer;
  beforeAll(async () => {
    t.db = await createTestDatabase();
    t.srv = await startTestServer(t.db.url, { SYNC_ENABLED: 'false', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000' });
    t.fx = await seedMailboxes(t.srv, dovecot);
  });
  afterAll(async () => {
    await t.srv?.close();
    await t.db?.drop();
  });
  return t;
}
