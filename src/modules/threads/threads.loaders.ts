import DataLoader from 'dataloader';
import type { EmailRow, EmailsQueryService, ThreadSlice } from '../emails/index.js';
import type { ThreadRow, ThreadsService } from './threads.service.js';

/** A page of one thread's emails. */
export interface ThreadEmailsKey extends ThreadSlice {
  threadId: number;
}

export interface ThreadLoaders {
  threadById: DataLoader<number, ThreadRow | null>;
  /** A page of a thread's emails, oldest first. */
  emailsByThread: DataLoader<ThreadEmailsKey, EmailRow[], string>;
}

/** One query per response for the threads of every email, and one per page size for the emails of every thread. */
export function createThreadLoaders(threads: ThreadsService, emails: EmailsQueryService): ThreadLoaders {
  return {
    threadById: new DataLoader(async (ids) => {
      const map = await threads.byIds(ids);
      return ids.map((id) => map.get(id) ?? null);
    }),
    emailsByThread: new DataLoader(
      async (keys) => {
        const slices = Map.groupBy(keys, (k) => `${k.offset}:${k.limit}`);
        const pages = new Map<string, EmailRow[]>();
        for (const group of slices.values()) {
          const map = await emails.byThreads(group.map((k) => k.threadId), group[0]!);
          for (const k of group) pages.set(keyOf(k), map.get(k.threadId) ?? []);
        }
        return keys.map((k) => pages.get(keyOf(k)) ?? []);
      },
      { cacheKeyFn: keyOf },
    ),
  };
}

function keyOf(k: ThreadEmailsKey): string {
  return `${k.threadId}:${k.offset}:${k.limit}`;
}
