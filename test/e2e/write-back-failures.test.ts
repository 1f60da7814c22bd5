/**
 * Write-back failures, end to end against a private Dovecot: an IMAP server that is down (the change waits and is
 * applied once it is back), a UIDVALIDITY reset before the write-back (a flag change follows its message, and so
 * does a delete), a message moved on the server before its flag change or its delete is written (the change follows
 * it), and a delete the server refused for good (the message comes back, with the reason on the email).
 */
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { appendMessage, buildMessage, createFolder, withImap } from '../support/imap.js';
import { useMailEnv, type MailCreds } from '../support/mail-account.js';
import { expectInSync, serverView, sql, waitForLockWait } from '../support/sync.js';
import { writeBackSteps } from '../support/write-back.js';

const t = useMailEnv({
  SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000', SYNC_LEASE_TTL_MS: '3000', SYNC_BACKOFF_BASE_MS: '200', SYNC_BACKOFF_MAX_MS: '1000',
  RATE_LIMIT_PER_MINUTE: '1000',
});

const { syncedAccount, serverFlags, bulk, emailRow, pendingRows, holdSyncLock, deleteQueued } = writeBackSteps(t);

/** Another client moves the message with `subject` from INBOX to Archive. */
const moveToArchive = (creds: MailCreds, subject: string) =>
  withImap(t.dovecot, creds, async (c) => {
    await c.mailboxOpen('INBOX');
    const uids = (await c.search({ subject }, { uid: true })) as number[];
    expect(uids).toHaveLength(1);
    await c.messageMove(String(uids[0]), 'Archive', { uid: true });
  });

describe('failures', () => {
  it('flags changed and changed back on the server: the MODSEQ follows, so a later local change is no conflict', async () => {
    const { creds, accountId, ids } = await syncedAccount(['quiet']);
    const id = ids.get('quiet')!;
    const lock = await holdSyncLock(accountId);
    const serverModseq = await withImap(t.dovecot, creds, async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageFlagsAdd('1', ['\\Flagged']);
      await c.messageFlagsRemove('1', ['\\Flagged']);
      const [m] = await c.fetchAll('1', { uid: true, flags: true });
      return String(m!.modseq);
    });
    await lock.release();
    await expectEventually(async () => {
      const [row] = await sql<{ modseq: string }>(t.dbUrl, 'SELECT modseq FROM emails WHERE id = $1', [id]);
      expect(row!.modseq).toBe(serverModseq);
    }, { timeoutMs: 15_000, intervalMs: 100 });
    expect((await t.srv.api(`/api/emails/${id}`, { method: 'PATCH', json: { is_read: true } })).status).toBe(200);
    await expectEventually(async () => expect(await pendingRows(accountId)).toEqual([]), { timeoutMs: 10_000, intervalMs: 100 });
    expect(await serverFlags(creds, 'INBOX', 'quiet')).toEqual(['\\Seen']);
    expect(await emailRow(id)).toMatchObject({ is_read: true, sync_error: null });
  }, 60_000);

  it('a flag sync that ran while our change was queued: the server flags it skipped come back with the write-back', async () => {
    const { creds, accountId, ids } = await syncedAccount(['starred twice']);
    const id = ids.get('starred twice')!;
    const lock = await holdSyncLock(accountId);
    let pass: ReturnType<typeof t.srv.api>;
    try {
      // Another client stars the message and marks it read; a sync pass queues for the lock first…
      await withImap(t.dovecot, creds, async (c) => {
        await c.mailboxOpen('INBOX');
        await c.messageFlagsAdd('1', ['\\Flagged', '\\Seen']);
      });
      pass = t.srv.api(`/api/accounts/${accountId}/sync`, { method: 'POST', json: {} });
      await waitForLockWait(t.dbUrl, 'the sync pass');
      // …then the user stars it here (on the old MODSEQ), and its write-back queues behind the pass.
      expect((await t.srv.api(`/api/emails/${id}`, { method: 'PATCH', json: { is_starred: true } })).status).toBe(200);
      await waitForLockWait(t.dbUrl, 'the write-back drain', 2);
    } finally {
      await lock.release();
    }
    // The pass leaves the queued message's flags alone and moves the folder's MODSEQ past \Seen; the write-back finds
    // \Flagged there already (its STORE refused, the server's state is what it wanted): \Seen must come back with it.
    expect((await pass!).status).toBe(200);
    await expectEventually(async () => {
      expect(await pendingRows(accountId)).toEqual([]);
      expect(await emailRow(id)).toMatchObject({ is_read: true, is_starred: true, sync_error: null });
    }, { timeoutMs: 10_000, intervalMs: 100 });
    await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'INBOX');
  }, 60_000);

  it('an IMAP server that is down: the change stays queued and is applied once it is back', async () => {
    const { creds, accountId, ids } = await syncedAccount(['during outage']);
    const id = ids.get('during outage')!;
    await t.dovecot.kill();
    try {
      expect((await bulk([id], 'star')).status).toBe(200);
      expect(await emailRow(id)).toMatchObject({ is_starred: true });
      await new Promise((res) => setTimeout(res, 1000));
      expect(await pendingRows(accountId)).toMatchObject([{ action: 'flag', status: 'pending' }]);
    } finally {
      await t.dovecot.restart();
    }
    await expectEventually(async () => {
      expect(await serverFlags(creds, 'INBOX', 'during outage')).toEqual(['\\Flagged']);
      expect(await pendingRows(accountId)).toEqual([]);
    }, { timeoutMs: 30_000, intervalMs: 250 });
    expect(await emailRow(id)).toMatchObject({ is_starred: true, sync_error: null });
  }, 90_000);

  it('UIDVALIDITY changed before the write-back: a flag change and a delete follow their message to its new UID', async () => {
    const { creds, accountId, ids } = await syncedAccount(['reset me', 'deleted before', 'deleted later'], { sync_folders: ['INBOX', 'Archive'] }, 'Archive');
    const id = ids.get('reset me')!;
    const lock = await holdSyncLock(accountId);
    try {
      expect((await bulk([id], 'mark_read')).status).toBe(200);
      expect((await t.srv.api(`/api/emails/${ids.get('deleted before')!}`, { method: 'DELETE' })).status).toBe(200);
      // The other order: the sync sees the reset before this delete's drain (its row waits, as after a failure).
      expect((await t.srv.api(`/api/emails/${ids.get('deleted later')!}`, { method: 'DELETE' })).status).toBe(200);
      await sql(t.dbUrl, "UPDATE write_backs SET next_attempt_at = now() + interval '1 hour' WHERE account_id = $1 AND email_id = $2", [accountId, ids.get('deleted later')!]);
      // Recreate the folder with the same messages: a new UIDVALIDITY.
      const sources = await withImap(t.dovecot, creds, async (c) => {
        await c.mailboxOpen('Archive');
        return (await c.fetchAll('1:*', { uid: true, source: true })).map((m) => m.source!);
      });
      await withImap(t.dovecot, creds, async (c) => {
        await c.mailboxDelete('Archive');
        await c.mailboxCreate('Archive');
      });
      for (const source of sources) await appendMessage(t.dovecot, creds, 'Archive', source);
    } finally {
      await lock.release();
    }
    const { uidValidity } = await serverView(t.dovecot, creds, 'Archive');
    await expectEventually(async () => {
      // The sync matched the message again (same email row, new UIDVALIDITY) and the queued \Seen followed it there.
      expect(await sql(t.dbUrl, 'SELECT uid_validity FROM emails WHERE id = $1', [id])).toEqual([{ uid_validity: String(uidValidity) }]);
      expect(await serverFlags(creds, 'Archive', 'reset me')).toEqual(['\\Seen']);
      expect(await emailRow(id)).toMatchObject({ is_read: true, sync_error: null });
      // The delete follows its message too (by its content identity): the reset's re-fetch does not bring it back.
      expect(await serverFlags(creds, 'Trash', 'deleted before')).toBeDefined();
      expect(await serverFlags(creds, 'Archive', 'deleted before')).toBeUndefined();
      // The one waiting for its retry is found by the reset pass, re-targeted and applied at once.
      expect(await serverFlags(creds, 'Trash', 'deleted later')).toBeDefined();
      expect(await serverFlags(creds, 'Archive', 'deleted later')).toBeUndefined();
      expect(await pendingRows(accountId)).toEqual([]);
    }, { timeoutMs: 20_000, intervalMs: 100 });
    expect(await sql(t.dbUrl, 'SELECT subject FROM emails WHERE account_id = $1', [accountId])).toEqual([{ subject: 'reset me' }]);
    // Neither deleted message was announced again.
    expect(await sql(t.dbUrl, "SELECT 1 FROM events WHERE account_id = $1 AND type = 'email.received'", [accountId])).toHaveLength(3);
    // A later change reaches the server under the new UID too.
    expect((await bulk([id], 'star')).status).toBe(200);
    await expectEventually(async () => {
      expect((await serverFlags(creds, 'Archive', 'reset me'))?.sort()).toEqual(['\\Flagged', '\\Seen']);
      expect((await emailRow(id))!.sync_error).toBeNull();
    }, { timeoutMs: 15_000, intervalMs: 100 });
  }, 60_000);

  it('a message moved on the server before the write-back: the flag change follows it to its new folder', async () => {
    const { creds, accountId, ids } = await syncedAccount(['filed elsewhere', 'left', 'synced first'], { sync_folders: ['INBOX', 'Archive'] });
    const moveOnServer = (subject: string) => moveToArchive(creds, subject);
    // As it comes: the queued changes race the sync that sees the move.
    const lock = await holdSyncLock(accountId);
    try {
      expect((await t.srv.api(`/api/emails/${ids.get('filed elsewhere')!}`, { method: 'PATCH', json: { is_read: true, is_starred: true } })).status).toBe(200);
      await moveOnServer('filed elsewhere');
      // The other order: the sync sees the move before the write-back runs (its row waits, as after a failure).
      expect((await bulk([ids.get('synced first')!], 'mark_read')).status).toBe(200);
      await sql(t.dbUrl, "UPDATE write_backs SET next_attempt_at = now() + interval '1 hour' WHERE email_id = $1", [ids.get('synced first')!]);
      await moveOnServer('synced first');
    } finally {
      await lock.release();
    }
    await expectEventually(async () => {
      expect(await sql(t.dbUrl, 'SELECT folder FROM emails WHERE id = $1', [ids.get('synced first')!])).toEqual([{ folder: 'Archive' }]);
    }, { timeoutMs: 15_000, intervalMs: 100 });
    await sql(t.dbUrl, 'UPDATE write_backs SET next_attempt_at = now() WHERE account_id = $1', [accountId]);
    await expectEventually(async () => {
      expect((await serverFlags(creds, 'Archive', 'filed elsewhere'))?.sort()).toEqual(['\\Flagged', '\\Seen']);
      expect(await serverFlags(creds, 'Archive', 'synced first')).toEqual(['\\Seen']);
      expect(await pendingRows(accountId)).toEqual([]);
      // The same emails, in Archive now, with the user's changes: the database and the server agree.
      expect(await emailRow(ids.get('filed elsewhere')!)).toMatchObject({ is_read: true, is_starred: true, sync_error: null });
      expect(await emailRow(ids.get('synced first')!)).toMatchObject({ is_read: true, is_starred: false, sync_error: null });
      await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'Archive');
    }, { timeoutMs: 20_000, intervalMs: 200 });
    await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'INBOX');
    expect(await serverFlags(creds, 'INBOX', 'left')).toEqual([]);
  }, 60_000);

  it('a message moved on the server before its delete is written: the delete follows it, it does not come back as new mail', async () => {
    const { creds, accountId, ids } = await syncedAccount(['filed then deleted', 'synced then deleted', 'stays'], { sync_folders: ['INBOX', 'Archive'] });
    const moveOnServer = (subject: string) => moveToArchive(creds, subject);
    const lock = await holdSyncLock(accountId);
    try {
      // Another client files the message while its delete is queued here: whichever of the drain and the sync comes first.
      expect((await t.srv.api(`/api/emails/${ids.get('filed then deleted')!}`, { method: 'DELETE' })).status).toBe(200);
      await moveOnServer('filed then deleted');
      // The other order: the sync stores the moved message before the delete's drain (its row waits, as after a failure).
      expect((await t.srv.api(`/api/emails/${ids.get('synced then deleted')!}`, { method: 'DELETE' })).status).toBe(200);
      await sql(t.dbUrl, "UPDATE write_backs SET next_attempt_at = now() + interval '1 hour' WHERE email_id = $1", [ids.get('synced then deleted')!]);
      await moveOnServer('synced then deleted');
    } finally {
      await lock.release();
    }
    await expectEventually(async () => {
      expect(await sql(t.dbUrl, "SELECT 1 FROM emails WHERE account_id = $1 AND folder = 'Archive' AND subject = 'synced then deleted'", [accountId])).toHaveLength(1);
    }, { timeoutMs: 15_000, intervalMs: 100 });
    await sql(t.dbUrl, 'UPDATE write_backs SET next_attempt_at = now() WHERE account_id = $1', [accountId]);
    await expectEventually(async () => {
      for (const subject of ['filed then deleted', 'synced then deleted']) {
        expect(await serverFlags(creds, 'Trash', subject)).toBeDefined();
        expect(await serverFlags(creds, 'Archive', subject)).toBeUndefined();
      }
      expect(await pendingRows(accountId)).toEqual([]);
      expect(await sql(t.dbUrl, 'SELECT folder, subject FROM emails WHERE account_id = $1', [accountId])).toEqual([{ folder: 'INBOX', subject: 'stays' }]);
    }, { timeoutMs: 20_000, intervalMs: 200 });
    await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'INBOX');
    await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'Archive');
  }, 60_000);

  it('two identical messages moved on the server before their deletes are written: each delete follows one of them', async () => {
    const { creds, accountId } = await syncedAccount(['stays'], { sync_folders: ['INBOX', 'Archive'] });
    // The same message twice (a mailer that sent it twice, or a copy): one content identity.
    const twin = buildMessage({ subject: 'twin' });
    for (let i = 0; i < 2; i++) await appendMessage(t.dovecot, creds, 'INBOX', twin);
    const twins = async (folder: string) =>
      (await sql<{ id: number }>(t.dbUrl, 'SELECT id FROM emails WHERE account_id = $1 AND folder = $2 AND subject = $3 ORDER BY id', [accountId, folder, 'twin'])).map((r) => r.id);
    await expectEventually(async () => expect(await twins('INBOX')).toHaveLength(2), { timeoutMs: 15_000, intervalMs: 100 });
    const lock = await holdSyncLock(accountId);
    try {
      for (const id of await twins('INBOX')) expect((await t.srv.api(`/api/emails/${id}`, { method: 'DELETE' })).status).toBe(200);
      await sql(t.dbUrl, "UPDATE write_backs SET next_attempt_at = now() + interval '1 hour' WHERE account_id = $1", [accountId]);
      await withImap(t.dovecot, creds, async (c) => {
        await c.mailboxOpen('INBOX');
        const uids = (await c.search({ subject: 'twin' }, { uid: true })) as number[];
        expect(uids).toHaveLength(2);
        await c.messageMove(uids.join(','), 'Archive', { uid: true });
      });
    } finally {
      await lock.release();
    }
    await expectEventually(async () => expect(await twins('Archive')).toHaveLength(2), { timeoutMs: 15_000, intervalMs: 100 });
    await sql(t.dbUrl, 'UPDATE write_backs SET next_attempt_at = now() WHERE account_id = $1', [accountId]);
    await expectEventually(async () => {
      expect(await pendingRows(accountId)).toEqual([]);
      expect(await sql(t.dbUrl, 'SELECT folder, subject FROM emails WHERE account_id = $1', [accountId])).toEqual([{ folder: 'INBOX', subject: 'stays' }]);
      expect(await serverFlags(creds, 'Archive', 'twin')).toBeUndefined();
    }, { timeoutMs: 20_000, intervalMs: 200 });
    await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'Archive');
  }, 60_000);

  it('a delete whose message another client expunged does not chase a copy that was already in a folder synced since', async () => {
    // The user keeps a copy in Keep (made on the server long before); Keep is synced only from now on.
    const { creds, accountId, ids } = await syncedAccount(['kept elsewhere', 'stays'], { sync_folders: ['INBOX'] });
    await createFolder(t.dovecot, creds, 'Keep');
    const inboxUid = (subject: string) =>
      withImap(t.dovecot, creds, async (c) => {
        await c.mailboxOpen('INBOX');
        const uids = (await c.search({ subject }, { uid: true })) as number[];
        expect(uids).toHaveLength(1);
        return String(uids[0]);
      });
    await withImap(t.dovecot, creds, async (c) => {
      await c.mailboxOpen('INBOX');
      await c.messageCopy(await inboxUid('kept elsewhere'), 'Keep', { uid: true });
    });
    const lock = await holdSyncLock(accountId);
    try {
      // Deleted here, and on the phone too (expunged there), while the drain cannot run yet.
      expect((await t.srv.api(`/api/emails/${ids.get('kept elsewhere')!}`, { method: 'DELETE' })).status).toBe(200);
      await sql(t.dbUrl, "UPDATE write_backs SET next_attempt_at = now() + interval '1 hour' WHERE account_id = $1", [accountId]);
      await withImap(t.dovecot, creds, async (c) => {
        await c.mailboxOpen('INBOX');
        await c.messageDelete(await inboxUid('kept elsewhere'), { uid: true });
      });
    } finally {
      await lock.release();
    }
    expect((await t.srv.api(`/api/accounts/${accountId}`, { method: 'PUT', json: { sync_folders: ['INBOX', 'Keep'] } })).status).toBe(200);
    await expectEventually(async () => {
      expect(await sql(t.dbUrl, "SELECT 1 FROM emails WHERE account_id = $1 AND folder = 'Keep' AND subject = 'kept elsewhere'", [accountId])).toHaveLength(1);
    }, { timeoutMs: 20_000, intervalMs: 100 });
    await sql(t.dbUrl, 'UPDATE write_backs SET next_attempt_at = now() WHERE account_id = $1', [accountId]);
    // The delete finds nothing to follow: its message was not moved, and the copy in Keep is not its doing.
    await expectEventually(async () => expect(await pendingRows(accountId)).toEqual([]), { timeoutMs: 30_000, intervalMs: 200 });
    expect(await serverFlags(creds, 'Keep', 'kept elsewhere')).toBeDefined();
    expect(await sql(t.dbUrl, 'SELECT folder, subject FROM emails WHERE account_id = $1 ORDER BY folder', [accountId])).toEqual([
      { folder: 'INBOX', subject: 'stays' },
      { folder: 'Keep', subject: 'kept elsewhere' },
    ]);
  }, 90_000);

  it('a flag change whose message was expunged on the server meanwhile: the email goes, the change is settled, no retry forever', async () => {
    const { creds, accountId, ids } = await syncedAccount(['expunged', 'kept']);
    const lock = await holdSyncLock(accountId);
    try {
      expect((await bulk([ids.get('expunged')!, ids.get('kept')!], 'mark_read')).status).toBe(200);
      await withImap(t.dovecot, creds, async (c) => {
        await c.mailboxOpen('INBOX');
        const uids = (await c.search({ subject: 'expunged' }, { uid: true })) as number[];
        await c.messageDelete(uids.join(','), { uid: true });
      });
    } finally {
      await lock.release();
    }
    await expectEventually(async () => {
      expect(await pendingRows(accountId)).toEqual([]);
      expect(await emailRow(ids.get('expunged')!)).toBeUndefined();
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(await emailRow(ids.get('kept')!)).toMatchObject({ is_read: true, sync_error: null });
    await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'INBOX');
  }, 60_000);

  it('a flag change that fails for good: sync_error on the email and an email.updated saying so; cleared (with an event) by a later success', async () => {
    const { accountId, ids } = await syncedAccount(['doomed']);
    const id = ids.get('doomed')!;
    const syncErrorEvents = () =>
      sql<{ changes: Record<string, unknown> }>(t.dbUrl, "SELECT payload->'changes' AS changes FROM events WHERE type = 'email.updated' AND (payload->>'emailId')::int = $1 AND payload->'changes' ? 'syncError' ORDER BY seq", [id]);
    // As the drain leaves a change on its last attempt: here, a folder the server does not have (deleted there).
    const lock = await holdSyncLock(accountId);
    try {
      expect((await t.srv.api(`/api/emails/${id}`, { method: 'PATCH', json: { is_read: true } })).status).toBe(200);
      await sql(t.dbUrl, "UPDATE write_backs SET attempts = 7, folder = 'Vanished' WHERE account_id = $1", [accountId]);
    } finally {
      await lock.release();
    }
    await expectEventually(async () => {
      expect(await pendingRows(accountId)).toEqual([{ action: 'seen', status: 'failed', last_error: expect.stringMatching(/^Could not open folder Vanished: .*\(gave up after 8 attempts\)$/) }]);
    }, { timeoutMs: 10_000, intervalMs: 100 });
    const error = (await emailRow(id))!.sync_error;
    expect(error).toMatch(/^Could not open folder Vanished/);
    expect(await syncErrorEvents()).toEqual([{ changes: { syncError: error } }]);
    // A later change that the server takes clears it, and says so.
    expect((await t.srv.api(`/api/emails/${id}`, { method: 'PATCH', json: { is_starred: true } })).status).toBe(200);
    await expectEventually(async () => expect(await emailRow(id)).toMatchObject({ is_starred: true, sync_error: null }), { timeoutMs: 10_000, intervalMs: 100 });
    expect(await syncErrorEvents()).toEqual([{ changes: { syncError: error } }, { changes: { syncError: null } }]);
  }, 60_000);

  it('a delete the server refused for good: the message comes back with the reason, and can be deleted again', async () => {
    const { creds, accountId, ids } = await syncedAccount(['refused', 'other']);
    // As the drain leaves a MOVE the server refused MAX_WRITE_BACK_ATTEMPTS times.
    await deleteQueued(accountId, ids.get('refused')!, "UPDATE write_backs SET status = 'failed', attempts = 8, last_error = 'Could not move the messages to Trash (gave up after 8 attempts)' WHERE account_id = $1");
    const r = await t.srv.api(`/api/accounts/${accountId}/sync`, { method: 'POST', json: {} });
    expect(r.status, r.text).toBe(200);
    const back = await sql<{ id: number; sync_error: string | null }>(t.dbUrl, "SELECT id, sync_error FROM emails WHERE account_id = $1 AND subject = 'refused'", [accountId]);
    expect(back).toEqual([{ id: expect.any(Number), sync_error: 'The delete failed on the IMAP server, so the message is still there: Could not move the messages to Trash (gave up after 8 attempts)' }]);
    expect(await pendingRows(accountId)).toEqual([]);
    await expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'INBOX');
    // Deleted again, it goes (this time the server takes the MOVE).
    expect((await t.srv.api(`/api/emails/${back[0]!.id}`, { method: 'DELETE' })).status).toBe(200);
    await expectEventually(async () => {
      expect(await serverFlags(creds, 'Trash', 'refused')).toBeDefined();
      expect(await pendingRows(accountId)).toEqual([]);
    }, { timeoutMs: 10_000, intervalMs: 100 });
  }, 60_000);
});
