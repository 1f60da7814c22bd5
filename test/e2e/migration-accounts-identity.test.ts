/**
 * Migration accounts_mailbox_identity on a database that already holds accounts differing only in case: it must not
 * fail on them. The oldest of each group keeps the identity; the newer ones are deactivated, reported in last_error and
 * left out of the index; new clashes are refused from then on.
 */
import { randomBytes } from 'node:crypto';
import { RequestContext } from '@mikro-orm/postgresql';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AccountsService } from '../../src/modules/accounts/accounts.service.js';
import type { Principal } from '../../src/modules/auth/index.js';
import { useOrmDatabase } from '../support/orm.js';
import { sql } from '../support/sync.js';

const t = useOrmDatabase(1);
const MIGRATION = 'Migration20261209091000_accounts_mailbox_identity';

const insert = (email: string, host: string, username: string, active = true) =>
  sql<{ id: number }>(
    t.db.url,
    `INSERT INTO accounts (name, email, host, port, username, password_sealed, is_active, sync_folders, created_at, updated_at)
     VALUES ('Legacy', $1, $2, 993, $3, 'v1:x', $4, '["INBOX"]', now(), now()) RETURNING id`,
    [email, host, username, active],
  ).then((rows) => rows[0]!.id);

describe('migration accounts_mailbox_identity', () => {
  it('keeps the oldest of accounts that clash, deactivates and reports the others, and refuses new clashes', async () => {
    await t.orm.migrator.down({ migrations: [MIGRATION] });
    const kept = await insert('support@example.com', 'imap.example.com', 'support');
    const upper = await insert('Support@Example.com', 'IMAP.example.com', 'support');
    const dotted = await insert('support@example.com', 'imap.example.com.', 'support');
    const other = await insert('support@example.com', 'imap.example.com', 'someone-else');
    const lone = await insert('Lone@Example.com', 'Imap.Example.com', 'lone');

    await t.orm.migrator.up({ migrations: [MIGRATION] });

    const rows = await sql<{ id: number; is_active: boolean; last_error: string | null }>(t.db.url, 'SELECT id, is_active, last_error FROM accounts ORDER BY id');
    expect(rows).toEqual([
      { id: kept, is_active: true, last_error: null },
      { id: upper, is_active: false, last_error: expect.stringContaining(`the same mailbox as account ${kept}`) },
      { id: dotted, is_active: false, last_error: expect.stringContaining(`the same mailbox as account ${kept}`) },
      { id: other, is_active: true, last_error: null },
      { id: lone, is_active: true, last_error: null },
    ]);
    await expect(insert('SUPPORT@example.com', 'imap.EXAMPLE.com', 'support')).rejects.toThrow(/accounts_mailbox_identity/);
    await expect(insert('lone@example.com', 'imap.example.com.', 'lone')).rejects.toThrow(/accounts_mailbox_identity/);
    expect(await insert('new@example.com', 'imap.example.com', 'new')).toBeGreaterThan(lone);
  });

  it('an account left out of the index still blocks new duplicates (its older twin may be the one deleted), and can be renamed', () =>
    RequestContext.create(t.orm.em, async () => {
    const accounts = new AccountsService({
        orm: t.orm,
        secretKey: randomBytes(32),
        imapTimeouts: { connectTimeoutMs: 1000, greetingTimeoutMs: 1000, socketTimeoutMs: 1000, commandTimeoutMs: 1000, tlsRejectUnauthorized: true },
        log: pino({ level: 'silent' }),
      });
      const admin: Principal = { keyId: 1, name: 't', permissions: ['admin'], accountIds: null, limits: { perMinute: 1000, perHour: 1000 } };
      const [left] = await sql<{ id: number }>(t.db.url, "SELECT id FROM accounts WHERE email = 'Support@Example.com'");
      const [older] = await sql<{ id: number }>(t.db.url, "SELECT id FROM accounts WHERE email = 'support@example.com' AND host = 'imap.example.com' AND username = 'support'");
      await accounts.delete(admin, older!.id, { deleteEmails: true });
      const again = { name: 'Again', email: 'support@example.com', host: 'imap.example.com', port: 993, username: 'support', password: 'x', encryption: 'ssl' as const };
      await expect(accounts.create(admin, again)).rejects.toMatchObject({ code: 'CONFLICT' });
      const other = await accounts.create(admin, { ...again, username: 'other-user' });
      await expect(accounts.update(admin, other.id, { username: 'support' })).rejects.toMatchObject({ code: 'CONFLICT' });
      // The left-out account itself may still be renamed, or given its own spelling again.
      expect((await accounts.update(admin, left!.id, { name: 'Renamed', email: 'Support@Example.com', host: 'IMAP.example.com' })).name).toBe('Renamed');
    }));

  it('a database without clashes gets a plain unique index', async () => {
    const [index] = await sql<{ def: string }>(t.db.url, "SELECT pg_get_indexdef('accounts_mailbox_identity'::regclass) AS def");
    expect(index!.def).toMatch(/^CREATE UNIQUE INDEX accounts_mailbox_identity ON public\.accounts .*WHERE/);
    await sql(t.db.url, 'DELETE FROM accounts');
    await t.orm.migrator.down({ migrations: [MIGRATION] });
    await t.orm.migrator.up({ migrations: [MIGRATION] });
    const [plain] = await sql<{ def: string }>(t.db.url, "SELECT pg_get_indexdef('accounts_mailbox_identity'::regclass) AS def");
    expect(plain!.def).not.toContain('WHERE');
    expect(plain!.def).toContain('lower((email)::text)');
  });
});
