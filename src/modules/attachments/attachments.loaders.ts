import DataLoader from 'dataloader';
import type { AttachmentRow, AttachmentsService } from './attachments.service.js';

export interface AttachmentLoaders {
  attachmentsByEmail: DataLoader<number, AttachmentRow[]>;
}

/**
 * Batches the attachments of every email in one response into one query. No scope check here: the loader is only
 * reached through an Email the caller was already allowed to see.
 */
export function createAttachmentLoaders(attachments: AttachmentsService): AttachmentLoaders {
  return {
    attachmentsByEmail: new DataLoader(async (ids) => {
      const map = await attachments.byEmailIds([...ids]);
      return ids.map((id) => map.get(id) ?? []);
    }),
  };
}
