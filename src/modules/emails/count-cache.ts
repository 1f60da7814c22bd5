/**
 * Totals of email listings, reused until the mail changes. COUNT(*) is the costly half of a page (it visits every
 * matching row: ~15 ms at 100k emails, and 32 clients at once queue on it), and dashboards ask for the same listing
 * again and again. Every change to emails appends to the outbox in its own transaction, and appends are serialized
 * (see events/outbox.ts), so max(events.seq) is a generation that moves whenever a total may have changed, on any
 * instance. The generation is read *before* counting: a count taken later is at least as new as its generation, so
 * an entry can only be recounted too often, never served stale. A few writes do not append events (a UIDVALIDITY
 * rematch's flags, deleting an account): for those an entry also expires after MAX_AGE_MS.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { exec } from '../../db/sql.js';

const MAX_ENTRIES = 1000;
const MAX_AGE_MS = 10_000;

interface Entry {
  generation: string;
  /** When the count started. */
  at: number;
  /** Settled, or still running: requests that miss while it runs wait for it instead of counting again. */
  total: Promise<number>;
}

export class CountCache {
  private readonly entries = new Map<string, Entry>();

  /** The outbox generation now (cheap: the primary key's last entry). */
  async generation(em: EntityManager): Promise<string> {
    const [row] = await exec<{ g: string }>(em, 'SELECT coalesce(max(seq), 0)::text AS g FROM events');
    return row!.g;
  }

  /**
   * The total for `key` at `generation`, counting with `count` when there is none (or it is too old). One count per key
   * and generation runs at a time: when an entry expires under load, the 32 requests in flight used to count at once
   * (each COUNT competing with the others for the same cores), which made the slowest responses of bench:api. A
   * request that joined a count which then failed counts on its own.
   */
  async total(key: string, generation: string, count: () => Promise<number>): Promise<number> {
    const hit = this.entries.get(key);
    if (hit && hit.generation === generation && Date.now() - hit.at < MAX_AGE_MS) return hit.total.catch(count);
    const entry: Entry = { generation, at: Date.now(), total: count() };
    this.entries.delete(key);
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
    try {
      return await entry.total;
    } catch (err) {
      if (this.entries.get(key) === entry) this.entries.delete(key);
      throw err;
    }
  }
}
