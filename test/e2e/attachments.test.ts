/**
 * Attachments end to end: mail with real attachments APPENDed to the private Dovecot, synced, then read over HTTP —
 * metadata routes, downloads (bytes, headers, ETag/304, Range/416), scope, permissions and hostile names.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseDisposition } from 'content-disposition';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { bytes, inlineImage, PNG, sha256, uuencodedInBody } from '../fixtures/messages.js';
import { createDovecotUser } from '../support/dovecot.js';
import { appendMessage, buildMessage, type Attachment as MailAttachment } from '../support/imap.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { apiRequest, startTestServer, type Credentials, type TestServer } from '../support/server.js';
import { sql } from '../support/sync.js';

const dovecot = inject('dovecot');
let db: TestDatabase;
let srv: TestServer;

const PDF = bytes(150_000, 11);
const UU_PDF = bytes(20_000, 15);
const UNICODE_NAME = 'Fäcture "été" — 2024.pdf';
const FILES: MailAttachment[] = [
  { filename: 'Invoice-2024.pdf', contentType: 'application/pdf', content: PDF },
  { filename: UNICODE_NAME, contentType: 'application/pdf', content: bytes(1000, 12) },
  { filename: 'page.html', contentType: 'text/html', content: Buffer.from('<script>alert(document.domain)</script>') },
  { filename: 'logo.svg', contentType: 'image/svg+xml', content: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>') },
  { filename: 'photo.png', contentType: 'image/png', content: Buffer.concat([PNG, bytes(64, 13)]) },
  { filename: 'say "hi".txt', contentType: 'text/plain', content: Buffer.from('hi\n') },
];

interface Ids {
  account: number;
  otherAccount: number;
  email: number;
  inlineEmail: number;
  otherEmail: number;
  uuEmail: number;
  byName: Record<string, number>;
}
let ids: Ids;
let scoped: Credentials;
let writeOnly: Credentials;

async function createAccount(creds: { user: string; password: string }): Promise<number> {
  const r = await srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'Attachments', email: `${creds.user}@example.com`, host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none' },
  });
  expect(r.status, r.text).toBe(201);
  const id = r.body.data.id as number;
  const s = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: {} });
  expect(s.status, s.text).toBe(200);
  return id;
}

async function createKey(permissions: string[], accountIds?: number[]): Promise<Credentials> {
  const scope = accountIds ? `, accountIds: [${accountIds.join(',')}]` : '';
  const r = await srv.api('/graphql', {
    method: 'POST',
    json: { query: `mutation { createApiKey(input: {name: "k", permissions: ${JSON.stringify(permissions)}${scope}}) { secret key { publicKey } } }` },
  });
  expect(r.body.errors, r.text).toBeUndefined();
  return { key: r.body.data.createApiKey.key.publicKey, secret: r.body.data.createApiKey.secret };
}

async function emailId(accountId: number, subject: string): Promise<number> {
  const [row] = await sql<{ id: number }>(db.url, 'SELECT id FROM emails WHERE account_id = $1 AND subject = $2', [accountId, subject]);
  return row!.id;
}

/** A raw download (bytes, not text). */
async function get(pathname: string, headers: Record<string, string> = {}, creds: Credentials = srv, method = 'GET') {
  const res = await fetch(`${srv.url}${pathname}`, { method, headers: { 'x-api-key': creds.key, 'x-api-secret': creds.secret, ...headers } });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, json: () => JSON.parse(body.toString()) as { success: boolean; error: string } };
}

beforeAll(async () => {
  db = await createTestDatabase();
  srv = await startTestServer(db.url, { SYNC_ENABLED: 'false', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000' });
  const mine = await createDovecotUser(dovecot.dir);
  await appendMessage(dovecot, mine, 'INBOX', buildMessage({ subject: 'Files', text: 'See attached.', attachments: FILES }));
  await appendMessage(dovecot, mine, 'INBOX', inlineImage());
  await appendMessage(dovecot, mine, 'INBOX', uuencodedInBody([{ name: 'old-report.pdf', data: UU_PDF }]));
  const other = await createDovecotUser(dovecot.dir);
  await appendMessage(dovecot, other, 'INBOX', buildMessage({ subject: 'Elsewhere', attachments: [{ filename: 'other.bin', contentType: 'application/octet-stream', content: bytes(500, 14) }] }));
  const account = await createAccount(mine);
  const otherAccount = await createAccount(other);
  const email = await emailId(account, 'Files');
  const rows = await sql<{ id: number; filename: string }>(db.url, 'SELECT id, filename FROM attachments WHERE email_id = $1', [email]);
  ids = {
    account,
    otherAccount,
    email,
    inlineEmail: await emailId(account, 'Inline image'),
    otherEmail: await emailId(otherAccount, 'Elsewhere'),
    uuEmail: await emailId(account, 'uuencoded'),
    byName: Object.fromEntries(rows.map((r) => [r.filename, r.id])),
  };
  scoped = await createKey(['read'], [otherAccount]);
  writeOnly = await createKey(['write']);
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

const pdfId = () => ids.byName['Invoice-2024.pdf']!;

describe('metadata (REST and GraphQL)', () => {
  it('GET /api/emails/{id}/attachments lists every file in message order with the documented shape', async () => {
    const r = await srv.api(`/api/emails/${ids.email}/attachments`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.success).toBe(true);
    expect(r.body.data.map((a: { original_filename: string }) => a.original_filename)).toEqual(FILES.map((f) => f.filename));
    expect(r.body.data[0]).toEqual({
      id: pdfId(),
      filename: 'Invoice-2024.pdf',
      original_filename: 'Invoice-2024.pdf',
      mime_type: 'application/pdf',
      file_size: 150_000,
      is_inline: false,
      content_id: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
    });
    expect(Object.keys(r.body.data[0])).toEqual(['id', 'filename', 'original_filename', 'mime_type', 'file_size', 'is_inline', 'content_id', 'created_at']);
  });

  it('GET /api/attachments/{id} adds email_id; inline images carry their Content-ID', async () => {
    const r = await srv.api(`/api/attachments/${pdfId()}`);
    expect(r.status, r.text).toBe(200);
    expect(Object.keys(r.body.data)).toEqual(['id', 'email_id', 'filename', 'original_filename', 'mime_type', 'file_size', 'is_inline', 'content_id', 'created_at']);
    expect(r.body.data).toMatchObject({ id: pdfId(), email_id: ids.email, file_size: 150_000 });
    const inline = await srv.api(`/api/emails/${ids.inlineEmail}/attachments`);
    expect(inline.body.data).toMatchObject([{ mime_type: 'image/png', is_inline: true, content_id: 'logo@example.com', file_size: PNG.length }]);
  });

  it('cid: images in body_html are signed URLs that open that attachment without a key, and nothing else', async () => {
    const email = await srv.api(`/api/emails/${ids.inlineEmail}`);
    const [inline] = (await srv.api(`/api/emails/${ids.inlineEmail}/attachments`)).body.data;
    const src = /<img[^>]* src="([^"]+)"/.exec(email.body.data.body_html)?.[1]?.replace(/&amp;/g, '&');
    expect(src).toMatch(new RegExp(`^/api/attachments/${inline.id}/download\\?inline=1&expires=\\d+&signature=[\\w-]+$`));
    const open = (url: string, method = 'GET') => fetch(`${srv.url}${url}`, { method });
    const res = await open(src!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-disposition')).toMatch(/^inline/);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(PNG);
    expect((await open(src!, 'HEAD')).status).toBe(200);
    // The signature names one attachment and one expiry; no key and no valid signature is a 401 in the envelope.
    const query = src!.slice(src!.indexOf('?'));
    for (const url of [`/api/attachments/${pdfId()}/download${query}`, src!.replace(/signature=[\w-]+/, 'signature=forged'), src!.replace(/expires=\d+/, 'expires=9999999999'), `/api/attachments/${inline.id}/download`]) {
      const r = await open(url);
      expect(r.status, url).toBe(401);
      expect(((await r.json()) as { success: boolean }).success).toBe(false);
    }
    // The other download route never accepts a signature.
    expect((await open(`/api/emails/${ids.inlineEmail}/attachments/${inline.id}${query}`)).status).toBe(401);
  });

  it('an inline image sent as image/jpg (a spelling PHP scripts and phones use) is stored, named and served as image/jpeg', async () => {
    const creds = await createDovecotUser(dovecot.dir);
    const html = '<p><img src="cid:photo@example.com"></p>';
    const jpeg = Buffer.concat([Buffer.from('ffd8ffe0', 'hex'), bytes(60, 31)]);
    await appendMessage(dovecot, creds, 'INBOX', `From: a@example.com\nSubject: jpg alias\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary="r"\n\n--r\nContent-Type: text/html; charset=utf-8\n\n${html}\n--r\nContent-Type: image/jpg\nContent-ID: <photo@example.com>\nContent-Transfer-Encoding: base64\n\n${jpeg.toString('base64')}\n--r--\n`);
    const email = await srv.api(`/api/emails/${await emailId(await createAccount(creds), 'jpg alias')}`);
    expect(email.body.data.attachments).toEqual([expect.objectContaining({ filename: 'attachment-1.jpg', mime_type: 'image/jpeg', is_inline: true, content_id: 'photo@example.com' })]);
    const src = /<img[^>]* src="([^"]+)"/.exec(email.body.data.body_html)![1]!.replace(/&amp;/g, '&');
    const image = await fetch(`${srv.url}${src}`);
    expect(image.headers.get('content-type')).toBe('image/jpeg');
    expect(image.headers.get('content-disposition')).toBe('inline; filename=attachment-1.jpg');
    expect(Buffer.from(await image.arrayBuffer()).equals(jpeg)).toBe(true);
  });

  it('a cid: image whose Content-ID header itself carries %-escapes (as its cid: URL does) gets its signed URL', async () => {
    const creds = await createDovecotUser(dovecot.dir);
    await appendMessage(dovecot, creds, 'INBOX', `From: a@example.com\nSubject: escaped cid\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary="r"\n\n--r\nContent-Type: text/html; charset=utf-8\n\n<p><img src="cid:logo%20v2@example.com"></p>\n--r\nContent-Type: image/png\nContent-ID: <logo%20v2@example.com>\nContent-Transfer-Encoding: base64\n\n${PNG.toString('base64')}\n--r--\n`);
    const email = await srv.api(`/api/emails/${await emailId(await createAccount(creds), 'escaped cid')}`);
    const [inline] = email.body.data.attachments as { id: number }[];
    const src = /<img[^>]* src="([^"]+)"/.exec(email.body.data.body_html)?.[1]?.replace(/&amp;/g, '&');
    expect(src, email.body.data.body_html).toMatch(new RegExp(`^/api/attachments/${inline!.id}/download\\?inline=1&`));
    const image = await fetch(`${srv.url}${src}`);
    expect(image.status).toBe(200);
    expect(Buffer.from(await image.arrayBuffer()).equals(PNG)).toBe(true);
  });

  it('a cid: URL %-encoding a Content-ID that holds a literal %XX (RFC 2392) still gets its signed URL', async () => {
    // `Content-ID: <part%41@example.com>` is referenced as `cid:part%2541@example.com`: decoded once, the URL names the
    // header as written ("part%41@…"), not the header decoded as if it were a URL ("partA@…").
    const creds = await createDovecotUser(dovecot.dir);
    await appendMessage(dovecot, creds, 'INBOX', `From: a@example.com\nSubject: rfc cid\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary="r"\n\n--r\nContent-Type: text/html; charset=utf-8\n\n<p><img src="cid:part%2541@example.com"></p>\n--r\nContent-Type: image/png\nContent-ID: <part%41@example.com>\nContent-Transfer-Encoding: base64\n\n${PNG.toString('base64')}\n--r--\n`);
    const email = await srv.api(`/api/emails/${await emailId(await createAccount(creds), 'rfc cid')}`);
    const [inline] = email.body.data.attachments as { id: number }[];
    const src = /<img[^>]* src="([^"]+)"/.exec(email.body.data.body_html)?.[1]?.replace(/&amp;/g, '&');
    expect(src, email.body.data.body_html).toMatch(new RegExp(`^/api/attachments/${inline!.id}/download\\?inline=1&`));
  });

  it('a file uuencoded in a text body (old clients) is an attachment of the email, out of body_text, downloadable', async () => {
    const r = await srv.api(`/api/emails/${ids.uuEmail}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ has_attachments: true, attachment_count: 1 });
    expect(r.body.data.attachments).toEqual([expect.objectContaining({ filename: 'old-report.pdf', mime_type: 'application/pdf', file_size: 20_000 })]);
    expect(r.body.data.body_text).toContain('here are the files.');
    expect(r.body.data.body_text).not.toMatch(/^begin 644/m);
    const file = await get(`/api/attachments/${r.body.data.attachments[0].id}/download`);
    expect(file.status).toBe(200);
    expect(sha256(file.body)).toBe(sha256(UU_PDF));
  });

  it('an email without attachments lists none; unknown ids are 404, malformed ids 400', async () => {
    const [plain] = await sql<{ id: number }>(db.url, 'SELECT id FROM emails WHERE NOT has_attachments LIMIT 1');
    if (plain) expect((await srv.api(`/api/emails/${plain.id}/attachments`)).body).toEqual({ success: true, data: [] });
    expect((await srv.api('/api/emails/999999/attachments')).status).toBe(404);
    expect((await srv.api('/api/attachments/999999')).body).toEqual({ success: false, error: 'Attachment 999999 not found' });
    for (const bad of ['abc', '0', '-1', '1e3', '99999999999']) {
      expect((await srv.api(`/api/attachments/${bad}`)).status, bad).toBe(400);
      expect((await srv.api(`/api/emails/${bad}/attachments`)).status, bad).toBe(400);
    }
  });

  it('GraphQL: attachment(id) and emailAttachments(emailId) with emailId, checksum and downloadUrl', async () => {
    const r = await srv.api('/graphql', {
      method: 'POST',
      json: { query: `{ attachment(id: ${pdfId()}) { id emailId checksum downloadUrl fileSize } emailAttachments(emailId: ${ids.email}) { filename } }` },
    });
    expect(r.body.errors, r.text).toBeUndefined();
    expect(r.body.data.attachment).toEqual({ id: String(pdfId()), emailId: String(ids.email), checksum: sha256(PDF), downloadUrl: `/api/attachments/${pdfId()}/download`, fileSize: 150_000 });
    expect(r.body.data.emailAttachments).toHaveLength(FILES.length);
  });
});

describe('downloads', () => {
  it('streams the original bytes with type, length, disposition, nosniff, ETag, ranges and auth headers', async () => {
    for (const url of [`/api/attachments/${pdfId()}/download`, `/api/emails/${ids.email}/attachments/${pdfId()}`]) {
      const r = await get(url);
      expect(r.status, url).toBe(200);
      expect(r.body.equals(PDF)).toBe(true);
      expect(r.headers.get('content-type')).toBe('application/pdf');
      expect(r.headers.get('content-length')).toBe('150000');
      expect(r.headers.get('content-disposition')).toBe('attachment; filename=Invoice-2024.pdf');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('etag')).toBe(`"${sha256(PDF)}"`);
      expect(r.headers.get('accept-ranges')).toBe('bytes');
      expect(r.headers.get('content-security-policy')).toContain('sandbox');
      expect(r.headers.get('x-ratelimit-limit')).toBeTruthy();
      expect(r.headers.get('x-ratelimit-remaining')).toBeTruthy();
    }
  });

  it('every file round-trips byte for byte', async () => {
    for (const f of FILES) {
      const r = await get(`/api/attachments/${ids.byName[f.filename]}/download`);
      expect(r.status, f.filename).toBe(200);
      expect(sha256(r.body), f.filename).toBe(sha256(f.content));
    }
  });

  it('If-None-Match with the ETag (strong, weak or in a list) answers 304 without a body', async () => {
    const etag = `"${sha256(PDF)}"`;
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const r = await get(`/api/attachments/${pdfId()}/download`, { 'if-none-match': inm });
      expect(r.status, inm).toBe(304);
      expect(r.body.length).toBe(0);
      expect(r.headers.get('etag')).toBe(etag);
    }
    expect((await get(`/api/attachments/${pdfId()}/download`, { 'if-none-match': '"stale"' })).status).toBe(200);
  });

  it('serves single byte ranges: first bytes, suffix, open-ended', async () => {
    const url = `/api/attachments/${pdfId()}/download`;
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      ['bytes=-500', 149_500, 149_999],
      ['bytes=149000-', 149_000, 149_999],
      ['bytes=100-100', 100, 100],
      ['bytes=140000-999999', 140_000, 149_999],
    ];
    for (const [range, start, end] of cases) {
      const r = await get(url, { range });
      expect(r.status, range).toBe(206);
      expect(r.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/150000`);
      expect(r.headers.get('content-length'), range).toBe(String(end - start + 1));
      expect(r.body.equals(PDF.subarray(start, end + 1)), range).toBe(true);
    }
  });

  it('an unsatisfiable range is 416 with Content-Range: bytes */size; multi-range and stale If-Range get the full file', async () => {
    const url = `/api/attachments/${pdfId()}/download`;
    for (const range of ['bytes=150000-', 'bytes=200000-300000', 'bytes=-0']) {
      const r = await get(url, { range });
      expect(r.status, range).toBe(416);
      expect(r.headers.get('content-range')).toBe('bytes */150000');
      expect(r.json()).toEqual({ success: false, error: 'Range not satisfiable: the file has 150000 bytes' });
    }
    const multi = await get(url, { range: 'bytes=0-1,5-6' });
    expect(multi.status).toBe(200);
    expect(multi.body.equals(PDF)).toBe(true);
    const stale = await get(url, { range: 'bytes=0-9', 'if-range': '"older"' });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(150_000);
    const fresh = await get(url, { range: 'bytes=0-9', 'if-range': `"${sha256(PDF)}"` });
    expect(fresh.status).toBe(206);
  });

  it('HEAD gives the headers and length without the body', async () => {
    const r = await get(`/api/attachments/${pdfId()}/download`, {}, srv, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe('150000');
    expect(r.headers.get('etag')).toBe(`"${sha256(PDF)}"`);
    expect(r.body.length).toBe(0);
  });

  it('Content-Disposition encodes unicode and quotes per RFC 6266/8187', async () => {
    const uni = await get(`/api/attachments/${ids.byName[UNICODE_NAME]}/download`);
    expect(uni.status).toBe(200);
    const header = uni.headers.get('content-disposition')!;
    expect(header).toMatch(/^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''/);
    expect(parseDisposition(header.replace(/; filename\*=.*$/, '')).parameters.filename).not.toContain('?'); // Windows refuses ? in names
    expect(parseDisposition(header).parameters.filename).toBe(UNICODE_NAME);
    const quoted = await get(`/api/attachments/${ids.byName['say "hi".txt']}/download`);
    expect(quoted.headers.get('content-disposition')).toBe('attachment; filename="say \\"hi\\".txt"');
    expect(parseDisposition(quoted.headers.get('content-disposition')!).parameters.filename).toBe('say "hi".txt');
  });

  it('?inline=1 only for raster images and PDF; HTML and SVG are always attachments in a sandbox', async () => {
    const png = await get(`/api/attachments/${ids.byName['photo.png']}/download?inline=1`);
    expect(png.headers.get('content-disposition')).toBe('inline; filename=photo.png');
    expect(png.headers.get('content-type')).toBe('image/png');
    const pdf = await get(`/api/attachments/${pdfId()}/download?inline=1`);
    expect(pdf.headers.get('content-disposition')).toBe('inline; filename=Invoice-2024.pdf');
    for (const name of ['page.html', 'logo.svg']) {
      const r = await get(`/api/attachments/${ids.byName[name]}/download?inline=1`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-disposition'), name).toBe(`attachment; filename=${name}`);
      expect(r.headers.get('content-security-policy'), name).toMatch(/sandbox/);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect((await get(`/api/attachments/${pdfId()}/download?inline=maybe`)).status).toBe(400);
  });

  it('the attachment must belong to the email in the path; bad ids are 400, unknown 404', async () => {
    const otherAttachment = (await srv.api(`/api/emails/${ids.inlineEmail}/attachments`)).body.data[0].id as number;
    const wrong = await get(`/api/emails/${ids.email}/attachments/${otherAttachment}`);
    expect(wrong.status).toBe(404);
    expect(wrong.json()).toEqual({ success: false, error: `Attachment ${otherAttachment} not found` });
    expect((await get(`/api/emails/999999/attachments/${pdfId()}`)).status).toBe(404);
    expect((await get('/api/attachments/999999/download')).status).toBe(404);
    for (const bad of ['abc', '0', '1.5', '99999999999']) {
      expect((await get(`/api/attachments/${bad}/download`)).status, bad).toBe(400);
      expect((await get(`/api/emails/${bad}/attachments/${pdfId()}`)).status, bad).toBe(400);
      expect((await get(`/api/emails/${ids.email}/attachments/${bad}`)).status, bad).toBe(400);
    }
  });

  it('a missing blob file is a 404 in the envelope, not a 500', async () => {
    const creds = await createDovecotUser(dovecot.dir);
    const content = bytes(777, 99);
    await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'Lost', attachments: [{ filename: 'lost.bin', contentType: 'application/octet-stream', content }] }));
    const account = await createAccount(creds);
    const [att] = (await srv.api(`/api/emails/${await emailId(account, 'Lost')}/attachments`)).body.data as { id: number }[];
    const key = sha256(content);
    await rm(path.join(srv.dataDir, 'blobs', key.slice(0, 2), key));
    const r = await get(`/api/attachments/${att!.id}/download`);
    expect(r.status).toBe(404);
    expect(r.json()).toEqual({ success: false, error: `Attachment ${att!.id} file is not available` });
  });
});

describe('access control', () => {
  /** The four attachment routes, on the first account's mail. */
  const allRoutes = () => [
    `/api/emails/${ids.email}/attachments`,
    `/api/attachments/${pdfId()}`,
    `/api/attachments/${pdfId()}/download`,
    `/api/emails/${ids.email}/attachments/${pdfId()}`,
  ];

  it('a key scoped to another account gets 404 on every attachment route, and sees its own', async () => {
    const routes = allRoutes();
    for (const url of routes) expect((await get(url, {}, scoped)).status, url).toBe(404);
    const own = await apiRequest(srv.url, scoped, `/api/emails/${ids.otherEmail}/attachments`);
    expect(own.status).toBe(200);
    const ownId = own.body.data[0].id as number;
    const dl = await get(`/api/attachments/${ownId}/download`, {}, scoped);
    expect(dl.status).toBe(200);
    expect(dl.body.equals(bytes(500, 14))).toBe(true);
    const gql = await apiRequest(srv.url, scoped, '/graphql', { method: 'POST', json: { query: `{ attachment(id: ${pdfId()}) { id } }` } });
    expect(gql.body.errors[0].extensions.code).toBe('NOT_FOUND');
  });

  it('a key without read gets 403 naming the permission; no credentials get 401', async () => {
    const routes = allRoutes();
    for (const url of routes) {
      const r = await get(url, {}, writeOnly);
      expect(r.status, url).toBe(403);
      expect(r.json()).toEqual({ success: false, error: 'This API key lacks the permission(s): read' });
      const anon = await fetch(`${srv.url}${url}`);
      expect(anon.status, url).toBe(401);
    }
    // The permission is checked before the ids are parsed.
    expect((await get('/api/attachments/abc/download', {}, writeOnly)).status).toBe(403);
  });
});
