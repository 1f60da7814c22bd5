/**
 * Messages the IMAP server fails to return. A broken message file on the server (truncated, its cached size wrong)
 * makes Dovecot drop the connection on every FETCH of it; other servers answer NO. Without more, the chunk holding it
 * failed on every pass, and since the folder cursor cannot pass a message that is not stored, nothing after it was
 * ever stored again.
 *
 * So a failed chunk fetch marks its messages suspect; the next passes fetch suspects one at a time, which stores the
 * others; a message whose fetch alone failed UNFETCHABLE_AFTER times is skipped (counted `failed`, logged) and the
 * cursor passes it. A connection lost to a network fault or a server restart fetches the suspects alone once, and
 * they clear as they are stored. In memory: a restart, or a `full_resync` of the folder, tries skipped messages again.
 */
const UNFETCHABLE_AFTER = 2;
/** Bounds the memory of a folder that fails constantly (a server refusing every FETCH). */
const MAX_TRACKED = 10_000;

const keyOf = (accountId: number, folder: string, uidValidity: number) => `${accountId}\0${folder}\0${uidValidity}`;

export class FetchFailures {
  /** Per folder (and UIDVALIDITY): UID → the failed fetches it was alone in. */
  private readonly folders = new Map<string, Map<number, { alone: number }>>();

  /** A fetch of `uids` failed (alone when there is one). */
  failed(accountId: number, folder: string, uidValidity: number, uids: readonly number[]): void {
    const key = keyOf(accountId, folder, uidValidity);
    const f = this.folders.get(key) ?? new Map<number, { alone: number }>();
    this.folders.set(key, f);
    for (const uid of uids) {
      const entry = f.get(uid) ?? (f.size < MAX_TRACKED ? { alone: 0 } : null);
      if (!entry) continue;
      if (uids.length === 1) entry.alone++;
      f.set(uid, entry);
    }
  }

  /** Stored: no longer suspect. */
  succeeded(accountId: number, folder: string, uidValidity: number, uids: readonly number[]): void {
    const key = keyOf(accountId, folder, uidValidity);
    const f = this.folders.get(key);
    if (!f) return;
    for (const uid of uids) f.delete(uid);
    if (f.size === 0) this.folders.delete(key);
  }

  /** `suspect`: to fetch alone; `unfetchable`: to skip; `ok`: to fetch with the others. */
  status(accountId: number, folder: string, uidValidity: number, uid: number): 'ok' | 'suspect' | 'unfetchable' {
    const entry = this.folders.get(keyOf(accountId, folder, uidValidity))?.get(uid);
    return !entry ? 'ok' : entry.alone >= UNFETCHABLE_AFTER ? 'unfetchable' : 'suspect';
  }

  /** A full resync tries everything again. */
  forget(accountId: number, folder: string): void {
    const prefix = `${accountId}\0${folder}\0`;
    for (const key of this.folders.keys()) if (key.startsWith(prefix)) this.folders.delete(key);
  }
}
