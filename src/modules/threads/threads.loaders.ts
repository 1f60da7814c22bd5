import DataLoader from 'dataloader';
import type { EmailRow, EmailsQueryService } from '../emails/index.js';
import type { ThreadRow, ThreadsService } from './threads.service.js';

export interface ThreadLoaders {
  threadById: DataLoader<number, ThreadRow | null>;
  /** Emails of a thread, oldest first. */
  emailsByThread: DataLoader<number, EmailRow[]>;
}

/** One query per response for the threads of every email, and one for the emails of every thread. */
export function createThreadLoaders(threads: ThreadsService, emails: EmailsQueryService): ThreadLoaders {
  return {
    threadById: new DataLoader(async (ids) => {
      const map = await threads.byIds(ids);
      return ids.map((id) => map.get(id) ?? null);
    }),
    emailsByThread: new DataLoader(async (ids) => {
      const map = await emails.byThreads(ids);
      return ids.map((id) => map.get(id) ?? []);
    }),
  };
}
