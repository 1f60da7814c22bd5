/**
 * SYNC_INFLIGHT_MB at its minimum (8 MiB): chunks wait for each other's budget, a message larger than the whole
 * budget still goes through (its request is clamped, it then runs alone), and two accounts syncing at once share it.
 * Everything is stored, with its attachments.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { appendMessage, buildMessage } from '../support/imap.js';
import { useMailEnv } from '../support/mail-account.js';
import { sql } from '../support/sync.js';

const t = useMailEnv({ SYNC_ENABLED: 'false', SYNC_INFLIGHT_MB: '8' });

async function mailbox(bigMiB: number[]) {
  const creds = await t.dovecot.createUser();
  for (const [i, mib] of bigMiB.entries()) {
    const attachment = { filename: `big-${i}.bin`, contentType: 'application/octet-stream', content: randomBytes(mib * 1024 * 1024) };
    await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: `big ${i}`, attachments: [attachment] }));
  }
  for (let i = 0; i < 20; i++) await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: `small ${i}` }));
  const r = await t.srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'Budget', email: `${creds.user}@example.com`, host: t.dovecot.host, port: t.dovecot.port, username: creds.user, password: creds.password, encryption: 'none' },
  });
  expect(r.status, r.text).toBe(201);
  return r.body.data.id as number;
}

describe('the process-wide budget of message sources in memory', () => {
  it('syncs chunks larger than the budget, and two accounts at once, completely', async () => {
    // 7 MiB of attachment is ~9.5 MiB of base64 source: over the 8 MiB budget on its own.
    const a = await mailbox([7, 3, 3]);
    const b = await mailbox([3, 3]);
    const [ra, rb] = await Promise.all([a, b].map((id) => t.srv.api(`/api/accounts/${id}/sync`, { method: 'POST' })));
    expect(ra!.status, ra!.text).toBe(200);
    expect(rb!.status, rb!.text).toBe(200);
    expect(ra!.body.data).toMatchObject({ new: 23, failed: 0 });
    expect(rb!.body.data).toMatchObject({ new: 22, failed: 0 });
    const sizes = await sql<{ s: string }>(t.dbUrl, `SELECT a.file_size AS s FROM attachments a JOIN emails e ON e.id = a.email_id WHERE e.account_id = $1 ORDER BY a.file_size DESC`, [a]);
    expect(sizes.map((r) => Number(r.s))).toEqual([7, 3, 3].map((m) => m * 1024 * 1024));
  }, 90_000);
});
