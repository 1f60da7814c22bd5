/**
 * Where the deletes of a write-back drain go (write-back.ts): MOVE to the account's Trash folder, expunge (the
 * account's `delete_mode`), or nowhere yet (retried with the error: a delete in trash mode is never silently
 * permanent), and how they leave their folder (removeMessages).
 */
import type { ImapFlow } from 'imapflow';
import { errorMessage } from '../shared/errors.js';
import { searchUids, storeFlag, uidSets } from './imap-uids.js';
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

/**
 * Takes `uids` out of the selected folder: MOVE to `trash`, or (null) \Deleted + expunge; false when the server
 * refused. Without MOVE a move is COPY + expunge. Without UIDPLUS there is no UID EXPUNGE, and a plain EXPUNGE removes
 * every message flagged \Deleted in the folder — those another client marked deleted but kept (mail clients' "mark as
 * deleted" model) too, for good. So the others lose \Deleted for the time of the EXPUNGE and get it back after it
 * (RFC 4315's motivation; a client flagging one in between is the race it leaves, and a connection lost in between
 * leaves them unmarked rather than destroyed).
 */
export async function removeMessages(client: ImapFlow, uids: readonly number[], trash: string | null): Promise<boolean> {
  let ok = true;
  for (const set of uidSets(uids)) ok = (await removeSet(client, set, trash)) && ok;
  return ok;
}

async function removeSet(client: ImapFlow, set: string, trash: string | null): Promise<boolean> {
  if (trash && client.capabilities.has('MOVE')) return Boolean(await client.messageMove(set, trash, { uid: true }));
  if (trash && !(await client.messageCopy(set, trash, { uid: true }))) return false;
  if (client.capabilities.has('UIDPLUS')) return Boolean(await client.messageDelete(set, { uid: true }));
  const ours = new Set(await searchUids(client, { uid: set }));
  const others = (await searchUids(client, { deleted: true })).filter((u) => !ours.has(u));
  if (others.length > 0 && !(await storeFlag(client, others, '\\Deleted', false))) return false;
  try {
    return Boolean(await client.messageDelete(set, { uid: true }));
  } finally {
    if (others.length > 0) await storeFlag(client, others, '\\Deleted', true);
  }
}
