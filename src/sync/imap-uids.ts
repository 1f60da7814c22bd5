/**
 * UID sets on the wire. Servers limit the length of a command line (RFC 2683 asks clients to stay within about 1,000
 * octets, RFC 7162 within 8,192; Dovecot's `imap_max_line_length`, and others, refuse longer ones with BAD), and a
 * comma list of 1,000 sparse UIDs — a folder whose mail was mostly deleted over the years — is 5–8 KB on its own: such
 * a folder failed every pass. So UIDs go out packed into ranges (`1:500,502,504:900`) and split into commands whose
 * set stays under UID_SET_MAX_CHARS; the commands here run once per set.
 */
import type { FetchMessageObject, FetchQueryObject, ImapFlow, MailboxObject } from 'imapflow';

/** The longest UID set in one command: with the command's own words, a line stays under RFC 2683's 1,000 octets. */
export const UID_SET_MAX_CHARS = 900;

/** `uids` (any order, duplicates allowed) as packed UID sets of at most `maxChars` each. Pure. */
export function uidSets(uids: readonly number[], maxChars = UID_SET_MAX_CHARS): string[] {
  const sorted = [...new Set(uids)].sort((a, b) => a - b);
  const sets: string[] = [];
  let current = '';
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    const run = i === j ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`;
    if (current && current.length + 1 + run.length > maxChars) {
      sets.push(current);
      current = '';
    }
    current = current ? `${current},${run}` : run;
    i = j + 1;
  }
  if (current) sets.push(current);
  return sets;
}

export async function searchUids(client: ImapFlow, query: Record<string, unknown>): Promise<number[]> {
  const r = await client.search(query, { uid: true });
  // imapflow answers `false` when the command failed (e.g. the connection dropped): never read that as "no messages",
  // which would look like every message had been expunged.
  if (!r) throw Object.assign(new Error('UID SEARCH failed'), { code: 'NoConnection' });
  return r.sort((a, b) => a - b);
}

/** Which of `uids` are in the selected folder (sorted). */
export async function presentUids(client: ImapFlow, uids: readonly (number | string)[]): Promise<number[]> {
  const found: number[] = [];
  for (const set of uidSets(uids.map(Number))) found.push(...(await searchUids(client, { uid: set })));
  return found.sort((a, b) => a - b);
}

/** FETCH of `uids` (collected: no IMAP command may run inside a fetch() iteration). */
export async function fetchUids(client: ImapFlow, uids: readonly (number | string)[], query: FetchQueryObject): Promise<FetchMessageObject[]> {
  const rows: FetchMessageObject[] = [];
  for (const set of uidSets(uids.map(Number))) rows.push(...(await client.fetchAll(set, { ...query, uid: true }, { uid: true })));
  return rows;
}

/** Adds or removes `flag` on `uids`; false when the server refused any of it. */
export async function storeFlag(client: ImapFlow, uids: readonly (number | string)[], flag: string, add: boolean, unchangedSince?: bigint): Promise<boolean> {
  const options = { uid: true, ...(unchangedSince !== undefined ? { unchangedSince } : {}) };
  let ok = true;
  for (const set of uidSets(uids.map(Number))) ok = (add ? await client.messageFlagsAdd(set, [flag], options) : await client.messageFlagsRemove(set, [flag], options)) && ok;
  return ok;
}

/**
 * The selected folder's UIDNEXT: from its SELECT, else (RFC 3501 requires it there, some servers leave it out) one
 * above its highest UID, or 1 when it is empty. Without it the folder cursor became NaN and every pass failed.
 */
export async function uidNextOf(client: ImapFlow): Promise<number> {
  const box = client.mailbox as MailboxObject;
  if (box.uidNext) return box.uidNext;
  if (!box.exists) return 1;
  const last = await client.fetchOne('*', { uid: true });
  if (!last) throw Object.assign(new Error('FETCH of the last message failed'), { code: 'NoConnection' });
  return last.uid + 1;
}
