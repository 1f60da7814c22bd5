/**
 * Sync invariant checks against the server's own view: the stored (UIDVALIDITY, UID) set equals the server's, one
 * live row per message, flags equal, one `email.received` per logical email.
 */
import pg from 'pg';
import { expect } from 'vitest';
import { withImap, type ImapCreds, type ImapServer } from './imap.js';

export async function sql<T = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * Until `waiters` backends of the database at `url` wait for a lock (statements queued behind an open transaction or
 * a held advisory lock; PostgreSQL grants them in the order they queued).
 */
export async function waitForLockWait(url: string, what = 'a statement', waiters = 1): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const rows = await sql(url, `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
    if (rows.length >= waiters) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${what} never waited for the row lock`);
}

export interface ServerMessage {
  uid: number;
  flags: string[];
}

/** UIDVALIDITY and every message's UID and flags, as the IMAP server sees them. */
export async function serverView(server: ImapServer, creds: ImapCreds, folder: string): Promise<{ uidValidity: number; messages: ServerMessage[] }> {
  return withImap(server, creds, async (c) => {
    const box = await c.mailboxOpen(folder, { readOnly: true });
    const rows = box.exists > 0 ? await c.fetchAll('1:*', { uid: true, flags: true }) : [];
    return {
      uidValidity: Number(box.uidValidity),
      messages: rows.map((r) => ({ uid: r.uid, flags: [...(r.flags ?? [])].filter((f) => f !== '\\Recent').sort() })).sort((a, b) => a.uid - b.uid),
    };
  });
}

/** Asserts the database holds exactly the server's messages of `folder`: none missing, none duplicated, flags equal. */
export async function expectInSync(dbUrl: string, accountId: number, server: ImapServer, creds: ImapCreds, folder: string): Promise<void> {
  const view = await serverView(server, creds, folder);
  const rows = await sql<{ uid_validity: string; uid: string; flags: string[] }>(
    dbUrl,
    'SELECT uid_validity, uid, flags FROM emails WHERE account_id = $1 AND folder = $2 ORDER BY uid',
    [accountId, folder],
  );
  expect(rows.every((r) => Number(r.uid_validity) === view.uidValidity), 'all rows under the current UIDVALIDITY').toBe(true);
  expect(rows.map((r) => ({ uid: Number(r.uid), flags: [...r.flags].filter((f) => f !== '\\Recent').sort() }))).toEqual(view.messages);
}

/** Number of `email.received` events for an account. */
export async function receivedEvents(dbUrl: string, accountId: number): Promise<number> {
  const [r] = await sql<{ n: string }>(dbUrl, "SELECT count(*) AS n FROM events WHERE type = 'email.received' AND account_id = $1", [accountId]);
  return Number(r!.n);
}
