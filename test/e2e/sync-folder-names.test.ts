/**
 * Folder names beyond ASCII and nested folders (IMAP spells them in modified UTF-7: "&AMk-l&AOk-ments envoy&AOk-s"):
 * stored, filtered, listed and written back under their Unicode names, as users type them in `sync_folders`.
 */
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage, createFolder, withImap } from '../support/imap.js';
import { serverFlags, useMailEnv } from '../support/mail-account.js';
import { sql } from '../support/sync.js';

const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000' });

const SENT = 'Éléments envoyés';
const NESTED = 'Projets/2024 été — 東京';

describe('non-ASCII and nested folder names', () => {
  it('sync, filter, list, sync one folder and write flags back', async () => {
    const creds = await t.dovecot.createUser();
    for (const f of [SENT, NESTED]) await createFolder(t.dovecot, creds, f);
    // The server really holds them in modified UTF-7 (imapflow encodes and decodes).
    const listed = await withImap(t.dovecot, creds, async (c) => (await c.list()).map((m) => m.path));
    expect(listed).toEqual(expect.arrayContaining([SENT, NESTED]));
    await appendMessage(t.dovecot, creds, SENT, buildMessage({ subject: 'sent 1' }));
    await appendMessage(t.dovecot, creds, NESTED, buildMessage({ subject: 'nested 1' }));

    const r = await t.srv.api('/api/accounts', {
      method: 'POST',
      json: { name: 'Names', email: `${creds.user}@example.com`, host: t.dovecot.host, port: t.dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true, sync_folders: ['INBOX', SENT, NESTED] },
    });
    expect(r.status, r.text).toBe(201);
    const id = r.body.data.id as number;
    const stored = async () => (await sql<{ s: string }>(t.dbUrl, "SELECT folder || ' | ' || subject AS s FROM emails WHERE account_id = $1 ORDER BY subject", [id])).map((x) => x.s);
    await expectEventually(async () => expect(await stored()).toEqual([`${NESTED} | nested 1`, `${SENT} | sent 1`]), { timeoutMs: 15_000 });

    const inSent = await t.srv.api(`/api/emails?account_id=${id}&folder=${encodeURIComponent(SENT)}`);
    expect(inSent.body.data.map((e: { subject: string; folder: string }) => [e.folder, e.subject])).toEqual([[SENT, 'sent 1']]);

    const folders = await t.srv.api(`/api/accounts/${id}/folders`);
    expect(folders.status, folders.text).toBe(200);
    expect(JSON.stringify(folders.body.data)).toContain(SENT);
    expect(JSON.stringify(folders.body.data)).toContain('東京');

    await appendMessage(t.dovecot, creds, NESTED, buildMessage({ subject: 'nested 2' }));
    const one = await t.srv.api(`/api/accounts/${id}/sync`, { method: 'POST', json: { folder: NESTED } });
    expect(one.status, one.text).toBe(200);
    expect(one.body.data.new).toBe(1);

    const emailId = inSent.body.data[0].id as number;
    const patched = await t.srv.api(`/api/emails/${emailId}`, { method: 'PATCH', json: { is_starred: true } });
    expect(patched.status, patched.text).toBe(200);
    await expectEventually(async () => expect(await serverFlags(t.dovecot, creds, SENT, 'sent 1')).toContain('\\Flagged'), { timeoutMs: 10_000 });
  }, 60_000);
});
