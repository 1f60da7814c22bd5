/**
 * Real messages from the test data of two mail libraries (MimeKit, Ruby's mail; test/fixtures/real-world/SOURCES.md),
 * APPENDed to the private Dovecot as they are, synced, and read over REST as their reader would expect to see them:
 * decoded headers, readable text (no U+FFFD), attachments with their names, types and sizes, inline images resolved.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDovecotUser } from '../support/dovecot.js';
import { appendMessage } from '../support/imap.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { sql } from '../support/sync.js';

const dovecot = inject('dovecot');
const DIR = path.join(import.meta.dirname, '../fixtures/real-world');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.eml'));
let db: TestDatabase;
let srv: TestServer;
let accountId: number;
const uids = new Map<string, number>();

interface Attachment {
  id: number;
  filename: string;
  original_filename: string | null;
  mime_type: string;
  file_size: number;
  is_inline: boolean;
  content_id: string | null;
}

/** The email as GET /api/emails/{id} shows it. */
async function email(file: string) {
  const [row] = await sql<{ id: number }>(db.url, 'SELECT id FROM emails WHERE account_id = $1 AND uid = $2', [accountId, uids.get(file)]);
  expect(row, file).toBeDefined();
  const r = await srv.api(`/api/emails/${row!.id}`);
  expect(r.status, r.text).toBe(200);
  return r.body.data as Record<string, unknown> & { id: number; body_text: string | null; body_html: string | null; attachments: Attachment[] };
}

const files = (e: { attachments: Attachment[] }) => e.attachments.map((a) => [a.filename, a.mime_type, a.file_size, a.is_inline]);

async function download(url: string): Promise<Response> {
  return fetch(`${srv.url}${url}`, { headers: { 'x-api-key': srv.key, 'x-api-secret': srv.secret } });
}

/** The signed URLs of the `<img src>`s of a sanitised body, in order. */
const imageUrls = (html: string | null) => [...(html ?? '').matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { SYNC_ENABLED: 'false', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000' });
  const me = await createDovecotUser(dovecot.dir);
  for (const f of FILES) uids.set(f, (await appendMessage(dovecot, me, 'INBOX', readFileSync(path.join(DIR, f)))).uid);
  const r = await srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'Real-world mail', email: `${me.user}@example.com`, host: dovecot.host, port: dovecot.port, username: me.user, password: me.password, encryption: 'none' },
  });
  expect(r.status, r.text).toBe(201);
  accountId = r.body.data.id;
  const s = await srv.api(`/api/accounts/${accountId}/sync`, { method: 'POST', json: {} });
  expect(s.body.data, s.text).toMatchObject({ new: FILES.length, failed: 0 });
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

describe('every message', () => {
  it('is stored without parse_error, and no header or body shows U+FFFD (their sources are all valid)', async () => {
    const rows = await sql<{ message_uid: number; parse_error: string | null; subject: string | null; body_text: string | null; body_html: string | null }>(
      db.url,
      'SELECT uid AS message_uid, parse_error, subject, from_name, body_text, body_html FROM emails WHERE account_id = $1',
      [accountId],
    );
    expect(rows).toHaveLength(FILES.length);
    for (const row of rows) {
      expect(row.parse_error, `uid ${row.message_uid}`).toBeNull();
      expect(JSON.stringify(row), `uid ${row.message_uid}`).not.toContain('\ufffd');
    }
  });
});

describe('headers', () => {
  it('raw UTF-8 names and internationalised addresses (RFC 6532)', async () => {
    const e = await email('rubymail-utf8_headers.eml');
    expect(e).toMatchObject({ subject: 'Säying Hello', from_name: 'Jöhn Doe', from_address: 'jdöe@mächine.example', to_addresses: [{ email: 'märy@exämple.net', name: 'Märy Smith' }] });
  });

  it('encoded words among plain words in a Subject, a Korean EUC-KR body in base64 (Apple Mail, 2005)', async () => {
    const e = await email('rubymail-raw_email_with_partially_quoted_subject.eml');
    expect(e).toMatchObject({ subject: 'Re: Test: "漢字" mid "漢字" tail', from_name: 'Jamis Buck' });
    expect(e.body_text).toBe('대부분의 마찬가지로, 우리는 하나님을 믿습니다.\n\n제 이름은 Jamis입니다.');
  });

  it('two From addresses (the first is the sender) and an unquoted @ in a display name', async () => {
    const e = await email('rubymail-raw_email_with_at_display_name.eml');
    expect(e).toMatchObject({ from_name: 'Mikel Lindsaar', from_address: 'test@lindsaar.net', body_text: 'Plain email.\n\nHope it works well!\n\nMikel' });
    expect(e.to_addresses).toEqual([
      { email: 'smith@gmail.com', name: '' },
      { email: 'raasdnil@gmail.com', name: 'Mikel@Lindsaar' },
      { email: 'tom@gmail.com', name: '' },
    ]);
  });
});

describe('charsets', () => {
  it('ISO-2022-JP encoded words and a UTF-8 body under an ISO-2022-JP label (Thunderbird)', async () => {
    const e = await email('mimekit-japanese.eml');
    expect(e).toMatchObject({ subject: '日本語メールテスト (testing Japanese emails)', from_name: 'Atsushi Eno', to_addresses: [{ email: 'x@x.com', name: 'Jeffrey Stedfast' }] });
    expect(e.body_text).toBe("Let's see if both subject and body works fine...\n\n日本語が\n正常に\n送れているか\nテスト.\n");
    const other = await email('rubymail-japanese_iso_2022.eml');
    expect(other).toMatchObject({ subject: 'まみむめも', to_addresses: [{ email: 'raasdnil@gmail.com', name: 'みける' }], body_text: 'すみません。\n\n' });
  });

  it('Korean in raw 8-bit ks_c_5601-1987 (Outlook) and Ukrainian in KOI8-R quoted-printable (Exchange Online)', async () => {
    expect((await email('rubymail-ks_c_5601-1987.eml')).body_text).toBe('스티해\n');
    expect((await email('mimekit-tnef-ukr.eml')).body_text).toMatch(/^шостий\n\n\n\{EMAILSIGNATURE\}\n/);
  });

  it('a Subject of four UTF-8 encoded words and an RFC 2231 continued file name (Apple Mail)', async () => {
    const e = await email('rubymail-japanese_attachment_long_name.eml');
    expect(e.subject).toBe('まみむめも'.repeat(10));
    const name = `${'かきくけこ'.repeat(5)}.txt`;
    expect(files(e)).toEqual([[name, 'text/plain', 18, false]]);
    expect(e.attachments[0]!.original_filename).toBe(name);
  });

  it('an mbox From_ line first and an RFC 2231 name in iso-2022-jp with a stray 8-bit byte (Gmail, 2005)', async () => {
    const e = await email('rubymail-attachment_with_encoded_name.eml');
    expect(e).toMatchObject({ subject: 'Fwd: Signed email causes file attachments', from_address: 'xxxxxxxxx.xxxxxxx@gmail.com', from_name: 'xxxxxxxxx xxxxxxx' });
    expect(e.body_text).toContain('Test attachments oddly encoded with japanese charset.');
    expect(files(e)).toEqual([['01 Quien Te Dijat. Pitbull.mp3', 'audio/mpeg', 399, false]]);
  });
});

describe('structure', () => {
  it('Exchange\'s winmail.dat is an application/ms-tnef attachment with its bytes', async () => {
    const e = await email('mimekit-tnef-ukr.eml');
    expect(files(e)).toEqual([['winmail.dat', 'application/ms-tnef', 9566, false]]);
    const file = await download(`/api/attachments/${e.attachments[0]!.id}/download`);
    expect(file.headers.get('content-type')).toBe('application/ms-tnef');
    expect(Buffer.from(await file.arrayBuffer()).subarray(0, 4).toString('hex')).toBe('789f3e22'); // TNEF signature
  });

  it('a PGP/MIME signed announcement through Mailman: the text and the list footer, the signature as a file', async () => {
    const e = await email('mimekit-gnupg-announce-pgp-signed.eml');
    expect(e.body_text).toMatch(/^Hello!\n\nThe GnuPG team is pleased/);
    expect(e.body_text).toContain('-- \nDie Gedanken sind frei.');
    expect(e.body_text).toMatch(/Gnupg-announce mailing list\nGnupg-announce@gnupg.org\nhttp:\/\/lists.gnupg.org\/mailman\/listinfo\/gnupg-announce$/);
    expect(e.body_text).not.toContain('BEGIN PGP SIGNATURE');
    expect(files(e)).toEqual([['attachment-1.asc', 'application/pgp-signature', 199, false]]);
  });

  it('a delivery report: the explanation and the delivery status as text, the returned headers as a file', async () => {
    const e = await email('rubymail-report_422.eml');
    expect(e).toMatchObject({ subject: 'Warning: could not send message for past 8 hours', from_name: 'Mail Delivery Subsystem', from_address: 'MAILER-DAEMON@tppppp.com.au' });
    expect(e.body_text).toContain('452 4.2.2 <fraser@oooooooo.com.au>... Mailbox full');
    expect(e.body_text).toContain('Final-Recipient: RFC822; fraser@oooooooo.com.au\nAction: delayed\nStatus: 4.2.2');
    expect(files(e)).toEqual([['attachment-1.txt', 'text/rfc822-headers', 686, false]]);
  });

  it('a read receipt: the text, the disposition as a file, the original message named after its Subject', async () => {
    const e = await email('mimekit-disposition-notification.eml');
    expect(e).toMatchObject({ subject: 'Disposition notification', from_name: 'Joe Recipient', received_at: expect.any(String) });
    expect(e.body_text).toMatch(/^The message sent on 1995 Sep 19 .* has been displayed\./s);
    expect(files(e)).toEqual([
      ['attachment-1.txt', 'message/disposition-notification', 269, false],
      ['First draft of report.eml', 'message/rfc822', 358, false],
    ]);
    const [row] = await sql<{ sent_at: Date | null }>(db.url, 'SELECT sent_at FROM emails WHERE id = $1', [e.id]);
    expect(row!.sent_at?.toISOString()).toBe('1995-09-20T04:19:00.000Z'); // Date with a comment before the zone
  });

  it('a message attached by Outlook is named after its Subject, as mail clients list it, and downloads whole', async () => {
    const e = await email('rubymail-attachment_msg_from_outlook.eml');
    expect(e.body_text).toBe('This is mail with msg attahment sent from Outlook 2007\n\n');
    // Word's MsoNormal paragraphs keep the zero margins their dropped <style> block gave them.
    expect(e.body_html).toContain('<p style="margin:0">This is mail with msg attahment sent from Outlook 2007</p>');
    expect(e.body_html).not.toContain('Some text'); // the attached message stays out of the body
    expect(files(e)).toEqual([['This is test mail without attachment.eml', 'message/rfc822', 2321, false]]);
    expect(e.attachments[0]!.original_filename).toBeNull();
    const file = await download(`/api/attachments/${e.attachments[0]!.id}/download`);
    expect(file.headers.get('content-disposition')).toBe('attachment; filename="This is test mail without attachment.eml"');
    expect(await file.text()).toMatch(/^From: "Pavel" <pavel@yyy.com>\r?\n/);
  });
});

describe('inline images', () => {
  it('Apple Mail\'s picture between two HTML parts (no Content-ID) shows where it was, through its signed URL', async () => {
    const e = await email('rubymail-image_in_the_middle.eml');
    expect(files(e)).toEqual([['IMG_2583.jpeg', 'image/jpeg', 63, true]]);
    const html = e.body_html!;
    const [url] = imageUrls(html);
    expect(url).toMatch(new RegExp(`^/api/attachments/${e.attachments[0]!.id}/download\\?inline=1&expires=\\d+&signature=`));
    const at = html.indexOf('<img');
    expect(html.indexOf('is what it looks like:')).toBeLessThan(at);
    expect(html.indexOf('a picture of')).toBeGreaterThan(at);
    const image = await fetch(`${srv.url}${url}`);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
  });

  it('an MHTML image referenced by its Content-Location (<img src="image1">) shows through its signed URL', async () => {
    const e = await email('mimekit-multipart-related-mhtml.eml');
    expect(files(e)).toEqual([['attachment-1.png', 'image/png', 889, true]]);
    const [url] = imageUrls(e.body_html);
    expect(url).toMatch(new RegExp(`^/api/attachments/${e.attachments[0]!.id}/download\\?inline=1&expires=\\d+&signature=`));
    expect(e.body_html).toContain('width="267" height="52"');
    expect(e.body_html).toContain('def');
    const image = await fetch(`${srv.url}${url}`);
    expect(Buffer.from(await image.arrayBuffer()).subarray(1, 4).toString()).toBe('PNG');
  });

  it('an Apple Mail inline image with a Content-ID keeps it', async () => {
    const e = await email('rubymail-attachment_content_location.eml');
    expect(e.body_text).toBe('This is the first part.');
    expect(e.attachments.map((a) => [a.mime_type, a.is_inline, a.content_id])).toEqual([['image/jpeg', true, 'qbFGyPQAS8']]);
  });
});
