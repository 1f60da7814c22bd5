/** Attachments in the documented REST shape (seed 000 "Attachments"). */
import type { AttachmentFieldsFragment } from '../../graphql/generated/operations.js';
import { restId, restTime } from '../presenters.js';

/** An attachment as listed under an email (no email_id, as documented). */
export function restAttachment(a: AttachmentFieldsFragment) {
  return {
    id: restId(a.id),
    filename: a.filename,
    original_filename: a.originalFilename ?? null,
    mime_type: a.mimeType,
    file_size: a.fileSize,
    is_inline: a.isInline,
    content_id: a.contentId ?? null,
    created_at: restTime(a.createdAt),
  };
}

/** A single attachment (`GET /api/attachments/{id}`): the same fields plus `email_id`, in the documented order. */
export function restAttachmentWithEmail(a: AttachmentFieldsFragment) {
  const { id, ...rest } = restAttachment(a);
  return { id, email_id: restId(a.emailId), ...rest };
}
