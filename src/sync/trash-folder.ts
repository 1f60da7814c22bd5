/**
 * Where the deletes of a write-back drain go (write-back.ts): MOVE to the account's Trash folder, expunge (the
 * account's `delete_mode`), or nowhere yet (retried with the error: a delete in trash mode is never silently
 * permanent).
 */
import type { ImapFlow } from 'imapflow';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

export type DeleteTarget = { trash: string } | { expunge: true } | { unavailable: string };

/** The Trash folder by special-use, else by name; created when the server has none (see write-back.ts). */
export async function trashFolder(client: ImapFlow, log: Logger, accountId: number): Promise<DeleteTarget> {
  const folders = await client.list();
  const found = folders.find((f) => f.specialUse === '\\Trash') ?? folders.find((f) => f.name.toLowerCase() === 'trash');
  if (found) return { trash: found.path };
  try {
    const created = await client.mailboxCreate('Trash');
    log.info({ accountId, folder: created.path }, 'no Trash folder on the server: created one for deleted emails');
    return { trash: created.path };
  } catch (err) {
    return { unavailable: `No Trash folder on the server, and creating one failed: ${errorMessage(err)}` };
  }
}
