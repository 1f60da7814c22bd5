/**
 * Subscriptions to the event stream for one principal: live events it may see (its accounts; events without an
 * account only for unscoped keys), optionally preceded by a replay of the stored events after a cursor.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import { highestIssuedSeq, lastEventSeq, OVERFLOW, readEvents, seqOfEvent, type EventStream, type LiveSubscription, type StoredEvent, type StreamItem } from '../../events/index.js';
import { AppError } from '../../shared/errors.js';
import type { Principal } from '../auth/index.js';

export interface EventFilter {
  /** Only these types (empty or undefined: all). */
  types?: readonly string[];
  /** Only this account (already checked to be visible). */
  accountId?: number;
  /** Only events whose payload names this folder. */
  folder?: string;
}

const REPLAY_PAGE = 500;
/** The largest `events.seq` (bigserial). */
const MAX_SEQ = 2n ** 63n - 1n;

/** The principal's visibility rule for one event. */
export function canSeeEvent(principal: Principal, e: Pick<StoredEvent, 'accountId'>): boolean {
  if (principal.accountIds === null) return true;
  return e.accountId !== null && principal.accountIds.includes(e.accountId);
}

function matcher(principal: Principal, f: EventFilter): (e: StoredEvent) => boolean {
  const types = f.types && f.types.length > 0 ? new Set(f.types) : null;
  return (e) =>
    canSeeEvent(principal, e) &&
    (types === null || types.has(e.type)) &&
    (f.accountId === undefined || e.accountId === f.accountId) &&
    (f.folder === undefined || e.payload.folder === f.folder);
}

export class EventsService {
  constructor(
    private readonly orm: MikroORM,
    private readonly stream: EventStream,
  ) {}

  /**
   * Live events from now on. The process's stream reader can lag behind the table (it reads on NOTIFY and polls, and
   * skips ahead only while nobody listens), so events it has yet to read are not necessarily new: those committed
   * before this call (up to the newest seq stored now) are left out, e.g. the completion of a sync pass that ended
   * before a client subscribed to syncStatus and then started its own.
   */
  async live(principal: Principal, filter: EventFilter): Promise<LiveSubscription> {
    const before = BigInt(await lastEventSeq(this.orm.em.fork()));
    const match = matcher(principal, filter);
    // The stream delivers in seq order: once one event is past `before`, every later one is.
    let past = false;
    return this.stream.subscribe((e) => (past ||= BigInt(e.seq) > before) && match(e));
  }

  /**
   * Stored events after `after` (an event id or a seq), then live ones, with no gap and no duplicate: the live
   * subscription starts first (buffering), the replay reads until the table is exhausted (which covers everything up
   * to the live start, see reader.ts), and live events at or below the last replayed seq are skipped.
   */
  async replayThenLive(principal: Principal, filter: EventFilter, after: string | null): Promise<AsyncIterableIterator<StreamItem>> {
    const afterSeq = after === null ? null : await this.resolveCursor(after);
    if (afterSeq === null) return this.live(principal, filter);
    const match = matcher(principal, filter);
    const live = this.stream.subscribe(match);
    const accountIds = filter.accountId !== undefined ? [filter.accountId] : principal.accountIds;
    const em = this.orm.em;
    async function* body(): AsyncGenerator<StreamItem> {
      try {
        let cursor = afterSeq!;
        for (;;) {
          const page = await readEvents(em.fork(), { afterSeq: cursor, limit: REPLAY_PAGE, types: filter.types, accountIds });
          for (const e of page) if (match(e)) yield e;
          if (page.length > 0) cursor = page.at(-1)!.seq;
          if (page.length < REPLAY_PAGE) break;
        }
        const last = BigInt(cursor);
        for await (const item of live) {
          if (item === OVERFLOW || BigInt(item.seq) > last) yield item;
          if (item === OVERFLOW) return;
        }
      } finally {
        await live.return();
      }
    }
    const gen = body();
    const it: AsyncIterableIterator<StreamItem> = {
      next: () => gen.next(),
      // Ending the live part first wakes a generator parked on it, so an unsubscribe is never held until the next event.
      return: async () => {
        await live.return();
        return gen.return(undefined);
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /** `after` as a seq: digits are a seq (a PostgreSQL bigint), 64 hex characters an event id that must exist. */
  private async resolveCursor(after: string): Promise<string> {
    if (/^\d{1,19}$/.test(after)) {
      // 19 digits reach past the largest bigint: the cast in readEvents would fail as an internal error.
      if (BigInt(after) > MAX_SEQ) throw AppError.badInput(`after: seq ${after} is out of range (at most ${MAX_SEQ})`);
      // Past every seq issued (a cursor from before a restore): live events would all be skipped as already seen
      // until new seqs passed it — silence instead of an answer.
      const highest = await highestIssuedSeq(this.orm.em.fork());
      if (BigInt(after) > BigInt(highest)) throw AppError.badInput(`after: seq ${after} is newer than any event of this server (the newest is ${highest}); resubscribe without after, or with a cursor it gave`);
      return after;
    }
    if (/^[0-9a-f]{64}$/i.test(after)) {
      const seq = await seqOfEvent(this.orm.em.fork(), after.toLowerCase());
      if (seq !== null) return seq;
    }
    throw AppError.badInput(`after: unknown event id "${after.slice(0, 80)}" (give an event id or a seq)`);
  }
}
