/**
 * Syncs one folder on an open session: new messages (UIDNEXT cursor), flag changes (CONDSTORE CHANGEDSINCE, else a
 * full flag comparison), expunges (QRESYNC VANISHED, else a UID SEARCH diff when counts disagree), and UIDVALIDITY
 * resets (rematch by content identity: Message-ID + header hash, so local state survives and nothing is duplicated).
 * An incremental pass costs the changes, not the folder: it probes only its candidates, and reads the stored count
 * (to compare with EXISTS) after storing them.
 */
import type { ImapFlow, MailboxObject } from 'imapflow';
import { headerBlock, headerHash } from '../shared/header-hash.js';
import { messageIdOf, readFields } from './ingest/parse-headers.js';
import type { FlagChange, MessageIdentity } from '../modules/emails/index.js';
import { fetchNewMessages, flagChangeOf, metaOf } from './fetch-new.js';
import { fetchUids, presentUids, searchUids, uidNextOf } from './imap-uids.js';
import { planFolderSync } from './plan.js';
import { emptyCounts, type FolderCounts, type ProgressReport, type SyncDeps } from './sync-context.js';

export interface FolderSyncOptions {
  full?: boolean;
  since?: Date;
  onProgress?: (p: ProgressReport) => void;
}

/** Messages of a UIDVALIDITY reset fetched (flags + header) and rematched at a time. */
const IDENTITY_CHUNK = 1000;

/**
 * A UIDVALIDITY reset: the flags and header of each message (no body), IDENTITY_CHUNK at a time, each chunk rematched
 * to the stored emails at once, so only one chunk's identities are ever in memory. Returns the UIDs that matched an
 * email, and those that matched a delete queued before the reset (the delete follows them: they are not fetched).
 */
async function rematchByIdentity(
  client: ImapFlow,
  deps: SyncDeps,
  accountId: number,
  folder: string,
  uidValidity: number,
  uids: readonly number[],
): Promise<{ matched: Set<number>; deleting: Set<number> }> {
  const matched = new Set<number>();
  const deleting = new Set<number>();
  for (let i = 0; i < uids.length; i += IDENTITY_CHUNK) {
    const rows = await fetchUids(client, uids.slice(i, i + IDENTITY_CHUNK), { flags: true, headers: true });
    const ids: MessageIdentity[] = rows.map((r) => {
      const headers = r.headers ?? Buffer.alloc(0);
      const meta = metaOf(r);
      return { uid: r.uid, messageId: messageIdOf(readFields(headerBlock(headers))), headerHash: headerHash(headers), modseq: meta.modseq, flags: meta.flags };
    });
    const hits = await deps.ingest.rematch(accountId, folder, uidValidity, ids, 1);
    for (const uid of hits) matched.add(uid);
    const rest = ids.filter((m) => !hits.has(m.uid));
    for (const uid of await deps.state.followDeletes(accountId, folder, uidValidity, rest)) deleting.add(uid);
  }
  return { matched, deleting };
}

interface ServerChanges {
  flags: FlagChange[];
  /** UIDs the server reported expunged since the cursor's MODSEQ (QRESYNC VANISHED); null without QRESYNC. */
  vanished: number[] | null;
}

/**
 * Flags changed since `changedSince` (CONDSTORE), else all flags for comparison with `local` (every stored message's
 * flags). With QRESYNC the same UID FETCH carries VANISHED: the server answers with `VANISHED (EARLIER)`, which
 * imapflow emits as `expunge` events. Messages in `skip` (stored by this pass, with their flags) are left out.
 */
async function serverChanges(client: ImapFlow, folder: string, changedSince: string | null, local: Map<number, string[]> | null, skip: ReadonlySet<number>): Promise<ServerChanges> {
  const qresync = changedSince !== null && client.enabled.has('QRESYNC');
  const vanished: number[] = [];
  const onExpunge = (e: { path: string; uid?: number; vanished?: boolean; earlier?: boolean }) => {
    if (e.path === folder && e.vanished && e.earlier && e.uid !== undefined) vanished.push(e.uid);
  };
  if (qresync) client.on('expunge', onExpunge);
  try {
    const rows = changedSince
      ? await client.fetchAll('1:*', { uid: true, flags: true }, { uid: true, changedSince: BigInt(changedSince) })
      : await client.fetchAll('1:*', { uid: true, flags: true }, { uid: true });
    // Without a local map (CONDSTORE), applyFlags itself ignores UIDs that are not stored and flags that are equal.
    const wanted = (uid: number) => !skip.has(uid) && (local === null || local.has(uid));
    const flags = rows.filter((r) => wanted(r.uid)).map(flagChangeOf);
    return { flags, vanished: qresync ? vanished : null };
  } finally {
    if (qresync) client.off('expunge', onExpunge);
  }
}

/** Syncs `folder`; the caller holds the account's sync lock. */
export async function syncFolder(client: ImapFlow, deps: SyncDeps, accountId: number, folder: string, opts: FolderSyncOptions = {}): Promise<FolderCounts> {
  const counts = emptyCounts();
  if (opts.full) deps.fetchFailures.forget(accountId, folder);
  const selectedBefore = (client.mailbox || null)?.path === folder;
  const lock = await client.getMailboxLock(folder);
  try {
    const box = client.mailbox as MailboxObject;
    const uidValidity = Number(box.uidValidity);
    const view = { uidValidity, uidNext: await uidNextOf(client), exists: box.exists, highestModseq: box.highestModseq !== undefined ? String(box.highestModseq) : null };
    const cursor = await deps.state.cursor(accountId, folder);
    const stale = await deps.state.hasStaleValidity(accountId, folder, uidValidity);
    const plan = planFolderSync(cursor, view, { full: opts.full ?? false, staleRowsExist: stale, selectedBefore });
    // Deleted here, not yet on the server (its MOVE waits for a retry): neither new mail nor missing.
    const deleting = await deps.state.pendingDeletes(accountId, folder, uidValidity);
    // Internal dates are Unix times: SINCE before 1970 restricts nothing, and Dovecot refuses years before ~1900.
    const since = opts.since && opts.since.getTime() > 0 ? opts.since : undefined;
    const sinceQuery = since ? { since } : {};
    // `since` narrows a first sync, and what a full pass re-examines, never the mail above the cursor: the cursor moves
    // past every UID a pass looked at, so new mail with an older date (a message moved in keeps its INTERNALDATE) left
    // out here would never be fetched by any later pass. Nor what a reset rematches: a stored email it leaves out is
    // removed with the old UIDVALIDITY's rows, and below the new cursor never comes back.
    const newMail = async (fromUid: number) => (await searchUids(client, { uid: `${fromUid}:*` })).filter((u) => u >= fromUid);
    let candidates: number[];
    if (plan.kind === 'incremental') {
      candidates = plan.unchanged ? [] : await newMail(plan.fromUid);
    } else {
      candidates = await searchUids(client, since && plan.kind !== 'reset' ? sinceQuery : { all: true });
      if (since && plan.kind === 'initial' && cursor?.uidValidity === uidValidity) candidates = [...candidates, ...(await newMail(cursor.uidNext))];
    }
    // Deletes the server refused for good: the message is still there, so it comes back (with the reason).
    const undone = await deps.state.failedDeletes(accountId, folder, uidValidity);
    const undoneOnServer = undone.length > 0 ? await presentUids(client, undone) : [];
    candidates = [...new Set([...candidates, ...undoneOnServer])].sort((a, b) => a - b);
    // Which candidates are stored: an incremental pass probes only them (a folder of 100,000 messages is never loaded
    // for one new message); a first or full pass compares the whole folder anyway, all stored UIDs in one scan.
    const incremental = plan.kind === 'incremental';
    const present = await deps.state.localUids(accountId, folder, uidValidity, incremental ? candidates : undefined);
    let toFetch = candidates.filter((u) => !present.has(u) && !deleting.has(u));
    if (plan.kind === 'reset' && toFetch.length > 0) {
      const { matched, deleting: followed } = await rematchByIdentity(client, deps, accountId, folder, uidValidity, toFetch);
      counts.updated += matched.size;
      toFetch = toFetch.filter((u) => !matched.has(u) && !followed.has(u));
      for (const u of followed) deleting.add(u);
      // What no stored email matched is new to us: `since` narrows it, as it does a first sync.
      if (since && toFetch.length > 0) {
        const recent = new Set(await searchUids(client, sinceQuery));
        toFetch = toFetch.filter((u) => recent.has(u));
      }
    }
    const fetched = await fetchNewMessages(client, deps, {
      // UID SEARCH saw every UID from the cursor on, up to the UIDNEXT known before it (view.uidNext), and maybe more.
      // Never box.uidNext read now: mail delivered just before the SEARCH joins the session's view only at the end of
      // it (the EXISTS follows the results), and a STATUS of the folder answered meanwhile (the worker's poll round,
      // not under the sync lock) or a FETCH moves box.uidNext past UIDs the SEARCH did not list: the cursor skipped them.
      accountId, folder, uidValidity, uids: toFetch, finalUidNext: Math.max(view.uidNext, (toFetch.at(-1) ?? 0) + 1), onProgress: opts.onProgress,
    });
    counts.new += fetched.new;
    counts.updated += fetched.updated;
    counts.failed += fetched.failed;
    if (undone.length > 0) {
      // Settled once restored, or gone from the server; one whose fetch failed waits for the next pass.
      const stored = await deps.state.localUids(accountId, folder, uidValidity, undone);
      const there = new Set(undoneOnServer);
      await deps.state.settleFailedDeletes(accountId, folder, uidValidity, undone.filter((u) => stored.has(u) || !there.has(u)));
    }

    // Flags (and QRESYNC expunges) of what was stored before: on a first pass only if anything was (a resumed one).
    if ((incremental && !plan.unchanged) || (plan.kind === 'initial' && present.size > 0)) {
      const changedSince = plan.kind === 'incremental' ? plan.changedSince : null;
      // Without CONDSTORE (or on a full pass) every stored message's flags are compared.
      const local = changedSince === null ? await deps.state.localFlags(accountId, folder, uidValidity) : null;
      const changes = await serverChanges(client, folder, changedSince, local, new Set(toFetch));
      counts.updated += await deps.state.applyFlags(accountId, folder, uidValidity, changes.flags);
      if (changes.vanished) counts.deleted += await deps.state.removeUids(accountId, folder, uidValidity, changes.vanished);
    }
    // Expunges: QRESYNC VANISHED above where the server has it; else (or if the counts still disagree, or on a full
    // pass) a UID SEARCH diff. The stored count is read once the new mail is stored, off its path to the API.
    if (!incremental || (await deps.state.localCount(accountId, folder, uidValidity)) + deleting.size !== box.exists) {
      const server = new Set(await searchUids(client, { all: true }));
      const gone = [...(await deps.state.localUids(accountId, folder, uidValidity))].filter((u) => !server.has(u));
      counts.deleted += await deps.state.removeUids(accountId, folder, uidValidity, gone);
    }
    if (plan.kind === 'reset') counts.deleted += await deps.state.removeStaleValidity(accountId, folder, uidValidity);
    await deps.state.finishFolder(accountId, folder, { uidValidity, highestModseq: view.highestModseq, messages: box.exists });
    return counts;
  } finally {
    lock.release();
  }
}
