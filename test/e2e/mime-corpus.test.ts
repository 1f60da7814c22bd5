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
  // mutt sends attached text files inline with a file name; the text and HTML files are files, not the body.
  mutt: raw(
    'From: mutt@example.com\nTo: b@example.com\nSubject: config\nDate: Mon, 3 Mar 2025 10:00:00 +0000\nMessage-ID: <mutt@example.com>\nMIME-Version: 1.0\n' +
      'Content-Type: multipart/mixed; boundary="mutt"\nContent-Disposition: inline\n\n' +
      '--mutt\nContent-Type: text/plain; charset=us-ascii\nContent-Disposition: inline\n\nHi, config attached.\n' +
      '--mutt\nContent-Type: text/plain; charset=us-ascii\nContent-Disposition: inline; filename="nginx.conf"\n\nserver { listen 80; }\n' +
      '--mutt\nContent-Type: text/html; charset=us-ascii\nContent-Disposition: inline; filename="report.html"\n\n<h1>Report</h1>\n--mutt--\n',
  ),
  // Outlook stationery and signatures: a cell background that is an inline image.
  background: raw(
    'From: a@example.com\nTo: b@example.com\nSubject: stationery\nDate: Mon, 3 Mar 2025 10:00:00 +0000\nMessage-ID: <bg@example.com>\nMIME-Version: 1.0\n' +
      'Content-Type: multipart/related; boundary="R"\n\n--R\nContent-Type: text/html; charset=utf-8\n\n' +
      '<table><tr><td background="cid:image001.jpg@01DB8C1B.12345670">Hello</td></tr></table>\n' +
      '--R\nContent-Type: image/png; name="image001.png"\nContent-ID: <image001.jpg@01DB8C1B.12345670>\nContent-Transfer-Encoding: base64\n\n' +
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=\n--R--\n',
  ),
  // A Windows tool's UTF-16 text part under raw latin-1 Subject and From (not the charset those bytes are in).
  utf16Text: raw(
    'From: J{fc}rgen M{fc}ller <juergen@example.de>\nTo: b@example.com\nSubject: R{e9}sum{e9}\nDate: Mon, 3 Mar 2025 10:00:00 +0000\nMessage-ID: <utf16@example.de>\n' +
      'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-16le\nContent-Transfer-Encoding: base64\n\nYwBhAGYA6QA=\n',
  ),
  // Outlook Express / Outlook 2003 HTML: CSS property names in upper case.
  outlookExpress: raw(
    'From: a@example.com\nTo: b@example.com\nSubject: old outlook\nDate: Mon, 3 Mar 2025 10:00:00 +0000\nMessage-ID: <oe@example.com>\nMIME-Version: 1.0\n' +
      'Content-Type: text/html; charset="iso-8859-1"\n\n<HTML><BODY><DIV><FONT face=Arial size=2>Hi</FONT></DIV>\n' +
      '<P style="FONT-SIZE: 10pt; COLOR: #1f497d; FONT-FAMILY: Arial; POSITION: absolute">signature</P></BODY></HTML>\n',
  ),
  // Outlook/Word HTML: inline images as CSS backgrounds of a cell and a div; an escaped keyword is not one.
  wordBackground: raw(
    'From: a@example.com\nTo: b@example.com\nSubject: word stationery\nDate: Mon, 3 Mar 2025 10:00:00 +0000\nMessage-ID: <word-bg@example.com>\nMIME-Version: 1.0\n' +
      'Content-Type: multipart/related; boundary="W"\n\n--W\nContent-Type: text/html; charset=utf-8\n\n' +
      '<table><tr><td style="background-image:url(&quot;cid:image001.png@01DB8C1B.1234ABCD&quot;);height:40px">Hi</td></tr></table>\n' +
      '<div style="background:#fff url(cid:image001.png@01DB8C1B.1234ABCD) no-repeat">x</div><p style="background-image:url(\\63 id:image001.png@01DB8C1B.1234ABCD);color:red">y</p>\n' +
      '--W\nContent-Type: image/png; name="image001.png"\nContent-ID: <image001.png@01DB8C1B.1234ABCD>\nContent-Transfer-Encoding: base64\n\n' +
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=\n--W--\n',
  ),
  // The Bat! era again: attachment names as raw bytes — KOI8-R like the message's text, and a windows-1251 text file
  // that declares its own charset.
  koi8rFiles: raw(
    'From: ivan@example.ru\nTo: maria@example.ru\nSubject: files\nDate: Mon, 3 Mar 2025 10:00:00 +0300\nMessage-ID: <koi8r-files@example.ru>\nMIME-Version: 1.0\n' +
      'Content-Type: multipart/mixed; boundary="F"\n\n--F\nContent-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: 8bit\n\n{f4c5cbd3d4}\n' +
      '--F\nContent-Type: application/msword; name="{e4cfc7cfd7cfd2}.doc"\nContent-Disposition: attachment; filename="{e4cfc7cfd7cfd2}.doc"\n' +
      'Content-Transfer-Encoding: base64\n\nAAEC\n' +
      '--F\nContent-Type: text/plain; charset=windows-1251; name="{cef2f7b8f2}.txt"\nContent-Disposition: attachment\n\nreport\n--F--\n',
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

  it('raw 8-bit Subject and From keep their sender when the message declares UTF-16 for its text', async () => {
    const e = await email('utf16@example.de');
    expect(e).toMatchObject({ subject: 'Résumé', from_address: 'juergen@example.de', from_name: 'Jürgen Müller', body_text: 'café' });
  });
});

describe('attachments', () => {
  it('named text and HTML files sent inline after the body are listed and downloadable, not part of the body', async () => {
    const e = await email('mutt@example.com');
    expect(e).toMatchObject({ body_text: 'Hi, config attached.', body_html: null, has_attachments: true, attachment_count: 2 });
    expect(e.attachments.map((a: Record<string, unknown>) => [a.filename, a.mime_type, a.file_size, a.is_inline])).toEqual([
      ['nginx.conf', 'text/plain', 21, false],
      ['report.html', 'text/html', 15, false],
    ]);
    const file = await fetch(`${srv.url}/api/attachments/${e.attachments[0].id}/download`, { headers: { 'x-api-key': srv.key, 'x-api-secret': srv.secret } });
    expect(await file.text()).toBe('server { listen 80; }');
    const list = await srv.api(`/api/emails?has_attachments=1&subject=config`);
    expect(list.body.data.map((x: { id: number }) => x.id)).toEqual([e.id]);
  });

  it('file names written as raw bytes in a legacy charset are read in the charset of their part or message', async () => {
    const e = await email('koi8r-files@example.ru');
    expect(e.attachments.map((a: Record<string, unknown>) => [a.filename, a.original_filename, a.mime_type])).toEqual([
      ['Договор.doc', 'Договор.doc', 'application/msword'],
      ['Отчёт.txt', 'Отчёт.txt', 'text/plain'],
    ]);
    const file = await fetch(`${srv.url}/api/attachments/${e.attachments[0].id}/download`, { headers: { 'x-api-key': srv.key, 'x-api-secret': srv.secret } });
    expect(file.headers.get('content-disposition')).toContain(`filename*=UTF-8''${encodeURIComponent('Договор.doc')}`);
    const g = await srv.api('/graphql', { method: 'POST', json: { query: `{ email(id: ${e.id}) { attachments { filename originalFilename } } }` } });
    expect(g.body.data.email.attachments[1]).toEqual({ filename: 'Отчёт.txt', originalFilename: 'Отчёт.txt' });
  });

  it('a cid: table-cell background is rewritten to the inline image\'s signed URL, which serves it without a key', async () => {
    const e = await email('bg@example.com');
    const url = /background="([^"]+)"/.exec(e.body_html)?.[1]?.replaceAll('&amp;', '&');
    expect(url).toMatch(new RegExp(`^/api/attachments/${e.attachments[0].id}/download\\?inline=1&expires=\\d+&signature=`));
    const image = await fetch(`${srv.url}${url}`);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
  });

  it('upper-case CSS property names (Outlook 2003, Outlook Express) keep their formatting; the rules still apply', async () => {
    const e = await email('oe@example.com');
    expect(e.body_html).toContain('<p style="font-size:10pt;color:#1f497d;font-family:Arial">signature</p>');
  });

  it('url(cid:) in a background style is rewritten to the inline image\'s signed URL; an escaped cid: is still dropped', async () => {
    const e = await email('word-bg@example.com');
    const urls = [...e.body_html.matchAll(/url\(([^)]+)\)/g)].map((m: RegExpMatchArray) => m[1]!.replaceAll('&amp;', '&'));
    expect(urls).toHaveLength(2);
    expect(urls[0]).toMatch(new RegExp(`^/api/attachments/${e.attachments[0].id}/download\\?inline=1&expires=\\d+&signature=`));
    expect(e.body_html).toContain(';height:40px">Hi</td>');
    expect(e.body_html).toContain('<p style="color:red">y</p>');
    const image = await fetch(`${srv.url}${urls[1]}`);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    const g = await srv.api('/graphql', { method: 'POST', json: { query: `{ email(id: ${e.id}) { bodyHtml } }` } });
    expect(g.body.data.email.bodyHtml).toContain(`url(/api/attachments/${e.attachments[0].id}/download?inline=1&amp;expires=`);
  });
});
