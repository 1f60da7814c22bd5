/**
 * The folder cursor (UIDNEXT) never passes a message the pass did not see. On a session that stays selected (the
 * account worker's IDLE folder), mail delivered just before the pass's UID SEARCH enters the session's view only at
 * the end of that command (Dovecot's EXISTS follows the results): the SEARCH does not list it, but the mailbox state
 * that imapflow keeps then knows its UID — through the poll round's STATUS on the same connection, which is not
 * under the sync lock. A cursor taken from that state after the SEARCH skipped the message for good: found by the
 * soak (about one message in a thousand under load), never stored, no email.received.
 */
import { ImapFlow } from 'imapflow';
import { describe, expect, it } from 'vitest';
import { appendMessage, buildMessage } from '../support/imap.js';
import { useMailEnv } from '../support/mail-account.js';
import { expectInSync, receivedEvents } from '../support/sync.js';

const t = useMailEnv({ SYNC_ENABLED: 'false' });

describe('folder cursor', () => {
  it('mail that arrives while a pass searches is stored by the next pass, not skipped', async () => {
    const creds = await t.dovecot.createUser();
    for (const subject of ['before 1', 'before 2']) await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject }));
    const created = await t.srv.api('/api/accounts', {
      method: 'POST',
      json: { name: 'Cursor', email: `${creds.user}@example.com`, host: t.dovecot.host, port: t.dovecot.port, username: creds.user, password: creds.password, encryption: 'none' },
    });
    expect(created.status, created.text).toBe(201);
    const accountId = created.body.data.id as number;
    const client = new ImapFlow({ host: t.dovecot.host, port: t.dovecot.port, secure: false, doSTARTTLS: false, auth: { user: creds.user, pass: creds.password }, logger: false, disableAutoIdle: true });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const session = { client, stopped: new AbortController().signal };
      const runner = t.srv.server.engine.runner;
      await runner.run(accountId, {}, session); // the first sync; INBOX stays selected, as the worker's IDLE folder does
      // The race, made deterministic: a message is delivered right before the pass's UID SEARCH for new mail, and a
      // STATUS of the folder (the worker's poll round) answers right after it.
      const search = client.search.bind(client);
      let armed = true;
      client.search = (async (query: Parameters<ImapFlow['search']>[0], opts?: Parameters<ImapFlow['search']>[1]) => {
        const race = armed && typeof query === 'object' && query !== null && 'uid' in query;
        if (race) {
          armed = false;
          await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'during the search' }));
        }
        const r = await search(query, opts);
        if (race) await client.status('INBOX', { uidNext: true, messages: true, uidValidity: true, highestModseq: true });
        return r;
      }) as ImapFlow['search'];
      await appendMessage(t.dovecot, creds, 'INBOX', buildMessage({ subject: 'new' }));
      await runner.run(accountId, {}, session);
      expect(armed, 'the pass searched for new mail').toBe(false);
      await runner.run(accountId, {}, session);
      expect(await receivedEvents(t.db.url, accountId)).toBe(4);
      await expectInSync(t.db.url, accountId, t.dovecot, creds, 'INBOX');
    } finally {
      await client.logout().catch(() => client.close());
    }
  }, 60_000);
});
