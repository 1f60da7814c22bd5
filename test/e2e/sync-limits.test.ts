/**
 * Messages whose header values exceed what PostgreSQL can index (a btree entry holds ~2,700 bytes, a tsvector 1 MB)
 * are stored like any other, and never hold back the rest of their folder. Before, one such message failed its whole
 * batch, and since the folder cursor could not pass it, every later sync of the folder too.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IngestService } from '../../src/modules/emails/index.js';
import type { IngestMessage } from '../../src/modules/emails/index.js';
import { exec } from '../../src/db/sql.js';
import { appendMessage, buildMessage } from '../support/imap.js';
import { useMailEnv } from '../support/mail-account.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql } from '../support/sync.js';

const env = useMailEnv({});
const cjk = (n: number) => '議事録'.repeat(Math.ceil(n / 3)).slice(0, n);

/** A text/plain message with raw (8-bit UTF-8) header fields. */
function raw(fields: Record<string, string>, body = 'hello'): string {
  const all = { From: 'a@example.com', To: 'b@example.com', Subject: 'plain', Date: 'Mon, 2 Mar 2026 10:00:00 +0000', 'Message-ID': `<${Math.random()}@x>`, ...fields };
  return `${Object.entries(all).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`;
}

describe('header values over PostgreSQL limits', () => {
  it('are stored, and the rest of the folder with them', async () => {
    const { dovecot, srv, dbUrl } = env;
    const creds = await dovecot.createUser();
    const longSubject = `quarterly ${'x'.repeat(3000)}`;
    const messages = [
      raw({ Subject: longSubject }),
      raw({ Subject: cjk(1000) }),
      raw({ Subject: 'long id', 'Message-ID': `<${cjk(990)}@x>` }),
      raw({ Subject: 'long reply', 'In-Reply-To': `<${cjk(990)}@x>` }),
      raw({ Subject: 'long sender', From: `${cjk(990)}@example.com` }),
      raw({ Subject: 'many recipients', To: Array.from({ length: 40_000 }, (_, i) => `user${i}@example.com`).join(', ') }),
      buildMessage({ subject: 'an ordinary message' }),
    ];
    for (const m of messages) await appendMessage(dovecot, creds, 'INBOX', m);
    const created = await srv.api('/api/accounts', {
      method: 'POST',
      json: { name: 'Limits', email: `${creds.user}@example.com`, host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: false },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.data.id as number;
    const synced = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: {} });
    expect(synced.status, synced.text).toBe(200);
    expect(synced.body.data).toMatchObject({ new: messages.length, failed: 0 });

    const rows = await sql<{ subject: string; message_id: string | null; in_reply_to: string | null; from_address: string; n_to: number; parse_error: string | null }>(
      dbUrl,
      `SELECT subject, message_id, in_reply_to, from_address, jsonb_array_length(to_addresses) AS n_to, parse_error FROM emails WHERE account_id = $1 ORDER BY uid`,
      [id],
    );
    expect(rows).toHaveLength(messages.length);
    expect(rows.map((r) => r.parse_error)).toEqual(messages.map(() => null));
    expect(rows[0]!.subject).toBe(longSubject); // stored whole: only the sort index holds a prefix
    expect(rows[1]!.subject).toBe(cjk(1000));
    for (const v of [rows[2]!.message_id!, rows[3]!.in_reply_to!, rows[4]!.from_address]) {
      expect(Buffer.byteLength(v)).toBeLessThanOrEqual(998);
      expect(v.startsWith('議事録')).toBe(true);
    }
    expect(rows[5]!.n_to).toBeGreaterThan(1000);

    // The API lists, sorts and searches them.
    const bySubject = await srv.api(`/api/emails?account_id=${id}&sort=subject&order=asc&per_page=3`);
    expect(bySubject.status, bySubject.text).toBe(200);
    expect(bySubject.body.meta.total).toBe(messages.length);
    const next = await srv.api(`/api/emails?account_id=${id}&sort=subject&order=asc&per_page=3&page=3`);
    expect(next.body.data).toHaveLength(1);
    const found = await srv.api('/api/emails/search?q=quarterly');
    expect(found.body.data.map((e: { subject: string }) => e.subject)).toEqual([longSubject]);
    const recipient = await srv.api(`/api/emails?account_id=${id}&search=user39@example.com`);
    expect(recipient.status, recipient.text).toBe(200);
    expect(recipient.body.data.map((e: { subject: string }) => e.subject)).toEqual(['many recipients']);

    // And the folder keeps syncing after them.
    await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'after them' }));
    const again = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: {} });
    expect(again.body.data).toMatchObject({ new: 1, failed: 0 });
  });
});

describe('a message the IMAP server fails to return', () => {
  it('is fetched alone, then skipped: the messages around it and after it are stored', async () => {
    const { dovecot, srv, dbUrl } = env;
    const creds = await dovecot.createUser();
    for (const subject of ['before', 'broken', 'after']) await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject, text: 'hello '.repeat(50) }));
    // A message file shorter than the size in its name (a truncated file): Dovecot drops the connection on every FETCH of it.
    const maildir = path.join(dovecot.dir, 'mail', creds.user, 'Maildir');
    const files = (await Promise.all(['new', 'cur'].map(async (d) => (await readdir(path.join(maildir, d)).catch(() => [])).map((f) => path.join(maildir, d, f))))).flat().sort();
    const broken = [];
    for (const f of files) if ((await readFile(f, 'latin1')).includes('Subject: broken')) broken.push(f);
    expect(broken).toHaveLength(1);
    await writeFile(broken[0]!, 'Subject: broken\n\nx');
    const created = await srv.api('/api/accounts', {
      method: 'POST',
      json: { name: 'Broken', email: `${creds.user}@example.com`, host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: false },
    });
    const id = created.body.data.id as number;
    const statuses: number[] = [];
    let last = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: {} });
    for (statuses.push(last.status); last.status !== 200 && statuses.length < 6; statuses.push(last.status)) {
      last = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: {} });
    }
    // The chunk fails, then the broken message alone twice; the next pass skips it.
    expect(statuses).toEqual([502, 502, 502, 200]);
    expect(last.body.data).toMatchObject({ new: 1, failed: 1 });
    const subjects = async () => (await sql<{ subject: string }>(dbUrl, 'SELECT subject FROM emails WHERE account_id = $1 ORDER BY uid', [id])).map((r) => r.subject);
    expect(await subjects()).toEqual(['before', 'after']);

    await appendMessage(dovecot, creds, 'INBOX', buildMessage({ subject: 'later' }));
    const next = await srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: {} });
    expect(next.body.data).toMatchObject({ new: 1, failed: 0 });
    expect(await subjects()).toEqual(['before', 'after', 'later']);
  });
});

describe('a batch PostgreSQL refuses for its content', () => {
  const t = useOrmDatabase();

  function message(uid: number, subject: string): IngestMessage {
    return {
      uid, flags: ['\\Seen'], modseq: null, internalDate: new Date('2026-03-02T10:00:00Z'), size: 100, messageId: `m${uid}@x`,
      headerHash: String(uid).padStart(64, '0'), subject, from: { email: 'a@example.com', name: 'A' }, to: [], cc: [], replyTo: null,
      date: null, inReplyTo: null, references: [], headers: { Subject: subject }, bodyText: 'body', bodyHtml: null, attachments: [],
      rawBlobKey: String(uid).padStart(64, 'f'), rawSource: Buffer.from(`Subject: ${subject}\r\n\r\nbody`), parseError: null,
    };
  }

  it('is stored a message at a time; the one refused alone keeps its raw source and says why', async () => {
    const [account] = await sql<{ id: number }>(
      t.db.url,
      `INSERT INTO accounts (name, email, host, port, username, password_sealed, sync_folders, created_at, updated_at)
       VALUES ('a', 'a@example.com', 'localhost', 143, 'a', 'x', '["INBOX"]', now(), now()) RETURNING id`,
    );
    const ingest = new IngestService(t.orm);
    // Stands for a value over some PostgreSQL limit: a data exception (22012) whenever "refused" is stored.
    ingest.addHook({ name: 'refuses', afterInsert: async (em, emails) => void (emails.some((e) => e.subject === 'refused') && (await exec(em, 'SELECT 1 / 0'))) });
    const r = await ingest.storeBatch({ accountId: account!.id, folder: 'INBOX', uidValidity: 7, uidNext: 10, messages: [message(3, 'refused'), message(1, 'one'), message(5, 'five')] });
    expect(r.inserted).toHaveLength(3);
    const rows = await sql<{ uid: string; subject: string | null; is_read: boolean; parse_error: string | null }>(
      t.db.url, 'SELECT uid, subject, is_read, parse_error FROM emails WHERE account_id = $1 ORDER BY uid', [account!.id],
    );
    expect(rows.map((x) => [Number(x.uid), x.subject, x.is_read])).toEqual([[1, 'one', true], [3, null, true], [5, 'five', true]]);
    expect(rows[1]!.parse_error).toMatch(/database refused it \(.*division by zero/);
    const [cursor] = await sql<{ uid_next: string }>(t.db.url, 'SELECT uid_next FROM folder_states WHERE account_id = $1', [account!.id]);
    expect(Number(cursor!.uid_next)).toBe(10);
    const events = await sql(t.db.url, "SELECT 1 FROM events WHERE type = 'email.received' AND account_id = $1", [account!.id]);
    expect(events).toHaveLength(3);

    // Any other failure fails the batch as before, with nothing stored.
    ingest.addHook({ name: 'fails', afterInsert: async () => { throw new Error('not a data error'); } });
    await expect(ingest.storeBatch({ accountId: account!.id, folder: 'INBOX', uidValidity: 7, uidNext: 20, messages: [message(11, 'eleven')] })).rejects.toThrow('not a data error');
    expect(await sql(t.db.url, 'SELECT 1 FROM emails WHERE uid = 11')).toEqual([]);
  });
});
