/**
 * Shared steps of the end-to-end tests that change synced mail: a Dovecot user with messages, an active account
 * syncing it through the API, the server-side flags seen by a second IMAP client, and API keys with given scopes.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { startDovecot, type DovecotServer } from './dovecot.js';
import { expectEventually } from './eventually.js';
import { appendMessage, buildMessage, createFolder, withImap } from './imap.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';
import { startTestServer, type Credentials, type TestServer } from './server.js';
import { sql } from './sync.js';

export type MailCreds = { user: string; password: string };

/** A mailbox with `subjects` in `folder`, an active account syncing it, and the email ids by subject once synced. */
export async function syncedAccount(
  env: Pick<MailEnv, 'dovecot' | 'srv' | 'dbUrl'>,
  subjects: string[],
  extra: Record<string, unknown> = {},
  folder = 'INBOX',
  /** Messages in other folders (created when missing), stored by the same first sync. */
  elsewhere: Record<string, string[]> = {},
) {
  const { dovecot, srv, dbUrl } = env;
  const creds = await dovecot.createUser();
  const all = { [folder]: subjects, ...elsewhere };
  for (const [box, its] of Object.entries(all)) {
    if (box !== 'INBOX') await createFolder(dovecot, creds, box);
    for (const subject of its) await appendMessage(dovecot, creds, box, buildMessage({ subject }));
  }
  const r = await srv.api('/api/accounts', {
    method: 'POST',
    json: { name: 'Write-back', email: `${creds.user}@example.com`, host: dovecot.host, port: dovecot.port, username: creds.user, password: creds.password, encryption: 'none', is_active: true, ...extra },
  });
  expect(r.status, r.text).toBe(201);
  const accountId = r.body.data.id as number;
  const ids = new Map<string, number>();
  await expectEventually(async () => {
    const rows = await sql<{ id: number; subject: string }>(dbUrl, 'SELECT id, subject FROM emails WHERE account_id = $1', [accountId]);
    expect(rows).toHaveLength(Object.values(all).flat().length);
    for (const row of rows) ids.set(row.subject, row.id);
  }, { timeoutMs: 20_000, intervalMs: 100 });
  return { creds, accountId, ids };
}

/** Server-side flags of the message with `subject` in `folder` (undefined when it is not there). */
export async function serverFlags(dovecot: DovecotServer, creds: MailCreds, folder: string, subject: string): Promise<string[] | undefined> {
  return withImap(dovecot, creds, async (c) => {
    const box = await c.mailboxOpen(folder, { readOnly: true });
    if (box.exists === 0) return undefined;
    const rows = await c.fetchAll('1:*', { uid: true, flags: true, envelope: true });
    const m = rows.find((r) => r.envelope?.subject === subject);
    return m ? [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort() : undefined;
  });
}

/** A new API key with `permissions`, limited to `accountIds`. */
export async function scopedKey(srv: TestServer, permissions: string[], accountIds: number[]): Promise<Credentials> {
  const r = await srv.api('/graphql', {
    method: 'POST',
    json: { query: `mutation { createApiKey(input: {name: "k", permissions: ${JSON.stringify(permissions)}, accountIds: ${JSON.stringify(accountIds)}}) { secret key { publicKey } } }` },
  });
  return { key: r.body.data.createApiKey.key.publicKey as string, secret: r.body.data.createApiKey.secret as string };
}

export interface MailEnv {
  dovecot: DovecotServer;
  db: TestDatabase;
  srv: TestServer;
  dbUrl: string;
}

/**
 * For a test file: a private Dovecot (started with `dovecotOptions`), a database cloned from the template and the
 * server started on it with `serverEnv` (before all tests), stopped and dropped after them. The fields are set once `beforeAll` ran.
 */
export function useMailEnv(
  serverEnv: Record<string, string>,
  setup?: (env: MailEnv) => Promise<void>,
  dovecotOptions: Parameters<typeof startDovecot>[0] = {},
): MailEnv {
  const env = {} as MailEnv;
  beforeAll(async () => {
    env.dovecot = await startDovecot(dovecotOptions);
    env.db = await createTestDatabase();
    env.dbUrl = env.db.url;
    env.srv = await startTestServer(env.db.url, serverEnv);
    await setup?.(env);
  }, 60_000);
  afterAll(async () => {
    await env.srv?.close();
    await env.dovecot?.stop();
    await env.db?.drop();
  });
  return env;
}
