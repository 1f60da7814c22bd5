/**
 * A server without UIDPLUS and MOVE (a Dovecot advertising neither): there is no UID EXPUNGE, and a plain EXPUNGE
 * removes every message flagged \Deleted in the folder. Another client's messages marked \Deleted but not expunged
 * (the "mark as deleted" model of many mail clients) must survive our delete of one message, in both delete modes.
 */
import { describe, expect, it } from 'vitest';
import { expectEventually } from '../support/eventually.js';
import { withImap } from '../support/imap.js';
import { serverFlags, syncedAccount, useMailEnv } from '../support/mail-account.js';
import { expectInSync } from '../support/sync.js';

const NO_UIDPLUS = 'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+';
const t = useMailEnv({ SYNC_TICK_MS: '300', SYNC_POLL_INTERVAL_MS: '1000' }, undefined, { capabilities: NO_UIDPLUS });

describe('a server without UIDPLUS and MOVE', () => {
  for (const mode of ['trash', 'expunge'] as const) {
    it(`a delete (${mode} mode) expunges only its own message, not others marked \\Deleted by another client`, async () => {
      const { creds, accountId, ids } = await syncedAccount(t, ['bin', 'marked', 'keep'], { delete_mode: mode });
      await withImap(t.dovecot, creds, async (c) => {
        expect(c.capabilities.has('UIDPLUS')).toBe(false);
        await c.mailboxOpen('INBOX');
        await c.messageFlagsAdd('2', ['\\Deleted'], { uid: true });
      });
      expect((await t.srv.api(`/api/emails/${ids.get('bin')!}`, { method: 'DELETE' })).status).toBe(200);
      await expectEventually(async () => {
        expect(await serverFlags(t.dovecot, creds, 'INBOX', 'bin')).toBeUndefined();
        if (mode === 'trash') expect(await serverFlags(t.dovecot, creds, 'Trash', 'bin')).toBeDefined();
      }, { timeoutMs: 15_000, intervalMs: 200 });
      expect(await serverFlags(t.dovecot, creds, 'INBOX', 'marked')).toEqual(['\\Deleted']);
      expect(await serverFlags(t.dovecot, creds, 'INBOX', 'keep')).toEqual([]);
      await expectEventually(async () => expectInSync(t.dbUrl, accountId, t.dovecot, creds, 'INBOX'), { timeoutMs: 10_000, intervalMs: 200 });
    }, 60_000);
  }
});
