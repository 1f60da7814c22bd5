import DataLoader from 'dataloader';
import type { EmailBodies } from './email-row.js';
import type { EmailsQueryService } from './emails.query.service.js';

export interface EmailLoaders {
  /** Bodies and headers: listings never read them, so a page that asks for them costs one more query, not one per email. */
  emailBodies: DataLoader<number, EmailBodies | null>;
}

export function createEmailLoaders(emails: EmailsQueryService): EmailLoaders {
  return {
    emailBodies: new DataLoader(async (ids) => {
      const map = await emails.bodies(ids);
      return ids.map((id) => map.get(id) ?? null);
    }),
  };
}
