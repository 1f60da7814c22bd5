/**
 * Totals of email listings, reused until the mail changes. COUNT(*) is the costly half of a page (it visits every
 * matching row: ~15–50 ms at 100k emails, and 32 clients at once queue on it), and dashboards ask for the same listing
 * again and again. Every change to emails appends to the outbox in its own transaction, and appends are serialized
 * (see events/outbox.ts), so max(events.seq) is a generation that moves whenever a total may have changed, on any
 * instance. The generation is read *before* counting: a count taken later is at least as new as its generation, so
 * a total is never served after its generation moved, only recounted too often.
 *
 * A few writes do not append events (a UIDVALIDITY rematch's flags, deleting an account): for those, a total older
 * than COUNT_MAX_AGE_MS is recounted in the background while the requests meanwhile still get it — so such a write
 * shows in totals within COUNT_MAX_AGE_MS plus one count, and no request waits for that recount.
 *
 * One count per listing runs at a time: requests that miss while it runs wait for it. Without that, when an entry
 * expired under load, the 32 requests in flight counted at once (each COUNT competing with the others for the same
 * cores): the slowest responses of bench:api at concurrency 32. A request that joined a count which then failed
 * counts on its own.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { exec } from '../../db/sql.js';

const MAX_ENTRIES = 1000;
export const COUNT_MAX_AGE_MS = 10_000;
/** The generation as one value (`SELECT …`): also read as a column of the page query, in its snapshot. */
export const GENERATION_SQL = 'SELECT coalesce(max(seq), 0)::text FROM events';

interface Entry<T> {
  generation: string;
  /** When the count started. */
  at: number;
  /** Settled, or still running: requests that miss while it runs wait for it instead of counting again. */
  total: Promise<T>;
  /** A background recount of an aged entry is running. */
  refreshing: boolean;
}

/** `T`: a total (listings), or any figures computed over the emails alike (statistics, folder counts). */
export class CountCache<T = number> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The outbox generation now (cheap: the primary key's last entry). */
  async generation(em: EntityManager): Promise<string> {
    const [row] = await exec<{ g: string }>(em, `SELECT (${GENERATION_SQL}) AS g`);
    return row!.g;
  }

  /** The total for `key` at `generation`; `count` runs when there is none for this generation (see the file comment). */
  async total(key: string, generation: string, count: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit && hit.generation === generation) {
      if (this.now() - hit.at >= COUNT_MAX_AGE_MS && !hit.refreshing) this.refresh(key, hit, count);
      return hit.total.catch(count);
    }
    const entry: Entry<T> = { generation, at: this.now(), total: count(), refreshing: false };
    this.put(key, entry);
    try {
      return await entry.total;
    } catch (err) {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      throw err;
    }
  }

  /** Recounts an aged entry; its total replaces the entry only if nothing newer did meanwhile. */
  private refresh(key: string, aged: Entry<T>, count: () => Promise<T>): void {
    aged.refreshing = true;
    const at = this.now();
    count().then(
      (n) => {
        if (this.entries.get(key) === aged) this.put(key, { generation: aged.generation, at, total: Promise.resolve(n), refreshing: false });
      },
      // Kept as it was: the next request after a failed recount tries again.
      () => (aged.refreshing = false),
    );
  }

  private put(key: string, entry: Entry<T>): void {
    this.entries.delete(key);
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
  }
}
