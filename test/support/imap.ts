/**
 * IMAP helpers for tests, using imapflow against a server from ./dovecot.ts, plus a hand-built RFC 5322/MIME
 * message builder (CRLF line endings throughout, so what you APPEND is byte-for-byte what FETCH returns).
 */
import { randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';

/** Where to connect: a DovecotServer, or anything with host and port. */
export interface ImapServer {
  host: string;
  port: number;
}

/** Login credentials, as returned by DovecotServer.createUser(). */
export interface ImapCreds {
  user: string;
  password: string;
}

/** An attachment for buildMessage(). */
export interface Attachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

/** Options for buildMessage(); every field has a sensible default. */
export interface MessageOptions {
  /** Default 'Alice Sender <alice@example.com>'. Non-ASCII display names are encoded. */
  from?: string;
  /** Default 'Bob Receiver <bob@example.com>'. */
  to?: string | string[];
  cc?: string | string[];
  /** Default 'Test message'. Non-ASCII is encoded as RFC 2047 encoded-words. */
  subject?: string;
  /** text/plain body. With neither text nor html the body is an empty text/plain part. */
  text?: string;
  /** text/html body; with text too, both go into multipart/alternative. */
  html?: string;
  /** With or without angle brackets; default a random `<...@incoming.test>`. */
  messageId?: string;
  /** Default now. */
  date?: Date;
  /** Extra header fields (e.g. In-Reply-To, References), ASCII values. */
  headers?: Record<string, string>;
  attachments?: Attachment[];
}

/** Normalises every line ending (CRLF, lone LF, lone CR) to CRLF, byte-wise (binary-safe). */
export function toCrlf(raw: string | Buffer): Buffer {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  return Buffer.from(bytes.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
}

/**
 * Connects an imapflow client as `creds`, runs `fn`, and always logs out (or closes the socket if LOGOUT fails).
 * Resolves what `fn` resolves.
 */
export async function withImap<T>(server: ImapServer, creds: ImapCreds, fn: (client: ImapFlow) => Promise<T>): Promise<T> {
  const client = new ImapFlow({
    host: server.host,
    port: server.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: creds.user, pass: creds.password },
    logger: false,
    disableAutoIdle: true,
  });
  client.on('error', () => undefined); // surfaced through the rejected command instead
  try {
    await client.connect();
  } catch (e) {
    client.close();
    throw e;
  }
  try {
    return await fn(client);
  } finally {
    await client.logout().catch(() => client.close());
  }
}

/**
 * APPENDs `raw` (line endings normalised to CRLF) to `folder` with `flags` (e.g. ['\\Seen']).
 * Resolves the new message's UID (Dovecot has UIDPLUS).
 */
export async function appendMessage(
  server: ImapServer,
  creds: ImapCreds,
  folder: string,
  raw: string | Buffer,
  flags: string[] = [],
): Promise<{ uid: number }> {
  return withImap(server, creds, async (client) => {
    const res = await client.append(folder, toCrlf(raw), flags);
    if (!res || typeof res.uid !== 'number') throw new Error(`APPEND to ${folder} returned no UID`);
    return { uid: res.uid };
  });
}

/** CREATEs `folder` (path with '/' as separator; parents are created too). Succeeds if it already exists. */
export async function createFolder(server: ImapServer, creds: ImapCreds, folder: string): Promise<void> {
  await withImap(server, creds, async (client) => {
    await client.mailboxCreate(folder);
  });
}

// ---- message building ----

const isAscii = (s: string): boolean => /^[\x20-\x7e]*$/.test(s);

/** RFC 2047 B encoded-words of at most ~60 chars each, never splitting a UTF-8 sequence, joined by folding. */
function encodeWords(s: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const ch of s) {
    if (Buffer.byteLength(chunk + ch) > 42) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join('\r\n ');
}

const headerText = (s: string): string => (isAscii(s) ? s : encodeWords(s));

/** 'Name <addr>' with a non-ASCII name encoded; plain ASCII passes through. */
function address(a: string): string {
  if (isAscii(a)) return a;
  const m = /^\s*"?(.*?)"?\s*<([^>]+)>\s*$/.exec(a);
  if (!m?.[2]) throw new Error(`buildMessage: non-ASCII address needs the form 'Name <addr>': ${a}`);
  return `${encodeWords(m[1] ?? '')} <${m[2]}>`;
}
const addresses = (a: string | string[]): string => (Array.isArray(a) ? a : [a]).map(address).join(',\r\n ');

/** RFC 5322 date-time in UTC, e.g. 'Tue, 02 Jan 2024 03:04:05 +0000'. */
function rfc5322Date(d: Date): string {
  const [wd, day, mon, year, time] = d.toUTCString().split(' '); // 'Tue, 02 Jan 2024 03:04:05 GMT'
  return `${wd ?? ''} ${day ?? ''} ${mon ?? ''} ${year ?? ''} ${time ?? ''} +0000`;
}

/** Quoted-printable (RFC 2045) of UTF-8 text with CRLF line breaks and soft breaks at 76 columns. */
function quotedPrintable(text: string): string {
  return text
    .split(/\r\n|\r|\n/)
    .map((line) => {
      const bytes = Buffer.from(line, 'utf8');
      const tokens: string[] = [];
      bytes.forEach((b, i) => {
        const last = i === bytes.length - 1;
        const plain = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last);
        tokens.push(plain ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`);
      });
      const out: string[] = [];
      let cur = '';
      for (const t of tokens) {
        if (cur.length + t.length > 75) {
          out.push(`${cur}=`);
          cur = '';
        }
        cur += t;
      }
      out.push(cur);
      return out.join('\r\n');
    })
    .join('\r\n');
}

const base64Lines = (b: Buffer): string => (b.toString('base64').match(/.{1,76}/g) ?? ['']).join('\r\n');
const boundary = (): string => `=_incoming_${randomBytes(12).toString('hex')}`;

/** A MIME entity: header lines plus body, both without trailing CRLF. */
interface Part {
  headers: string[];
  body: string;
}

function textPart(subtype: 'plain' | 'html', content: string): Part {
  const simple = isAscii(content.replace(/\r\n|\r|\n|\t/g, '')) && content.split(/\r\n|\r|\n/).every((l) => l.length <= 76);
  return {
    headers: [`Content-Type: text/${subtype}; charset=utf-8`, `Content-Transfer-Encoding: ${simple ? '7bit' : 'quoted-printable'}`],
    body: simple ? content.replace(/\r\n|\r|\n/g, '\r\n') : quotedPrintable(content),
  };
}

/** Content-Type name / Content-Disposition filename parameters; RFC 2231 for non-ASCII names. */
function fileParam(key: string, filename: string): string {
  if (isAscii(filename)) return `${key}="${filename.replace(/["\\]/g, '\\$&')}"`;
  return `${key}*=UTF-8''${encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

function attachmentPart(a: Attachment): Part {
  return {
    headers: [
      `Content-Type: ${a.contentType};\r\n ${fileParam('name', a.filename)}`,
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment;\r\n ${fileParam('filename', a.filename)}`,
    ],
    body: base64Lines(a.content),
  };
}

function multipart(subtype: 'mixed' | 'alternative', parts: Part[]): Part {
  const b = boundary();
  const body = parts.map((p) => `--${b}\r\n${p.headers.join('\r\n')}\r\n\r\n${p.body}\r\n`).join('') + `--${b}--`;
  return { headers: [`Content-Type: multipart/${subtype};\r\n boundary="${b}"`], body };
}

/**
 * Builds a complete RFC 5322 / MIME message with CRLF line endings: text and/or html (multipart/alternative when
 * both), wrapped in multipart/mixed with base64 attachments when there are any. Non-ASCII text is quoted-printable,
 * non-ASCII headers RFC 2047-encoded, non-ASCII filenames RFC 2231-encoded.
 */
export function buildMessage(opts: MessageOptions = {}): string {
  const id = opts.messageId ?? `${randomBytes(8).toString('hex')}@incoming.test`;
  const bodies: Part[] = [];
  if (opts.text !== undefined) bodies.push(textPart('plain', opts.text));
  if (opts.html !== undefined) bodies.push(textPart('html', opts.html));
  if (bodies.length === 0) bodies.push(textPart('plain', ''));
  let root: Part = bodies.length > 1 ? multipart('alternative', bodies) : (bodies[0] ?? textPart('plain', ''));
  if (opts.attachments?.length) root = multipart('mixed', [root, ...opts.attachments.map(attachmentPart)]);

  const headers = [
    `From: ${address(opts.from ?? 'Alice Sender <alice@example.com>')}`,
    `To: ${addresses(opts.to ?? 'Bob Receiver <bob@example.com>')}`,
    ...(opts.cc === undefined ? [] : [`Cc: ${addresses(opts.cc)}`]),
    `Subject: ${headerText(opts.subject ?? 'Test message')}`,
    `Date: ${rfc5322Date(opts.date ?? new Date())}`,
    `Message-ID: ${id.startsWith('<') ? id : `<${id}>`}`,
    ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    'MIME-Version: 1.0',
    ...root.headers,
  ];
  return `${headers.join('\r\n')}\r\n\r\n${root.body}\r\n`;
}
