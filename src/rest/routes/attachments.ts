/**
 * Seed 000 "Attachments": the metadata routes. The file downloads (`/api/emails/:id/attachments/:attachmentId`,
 * `/api/attachments/:id/download`) are binary, not GraphQL: see `src/http/attachment-downloads.ts`.
 */
import { EmailAttachmentsDocument, GetAttachmentDocument } from '../../graphql/generated/operations.js';
import { restAttachment, restAttachmentWithEmail } from '../presenters/attachments.js';
import { route } from '../route.js';

export const attachmentRoutes = [
  route({
    method: 'GET',
    path: '/api/emails/:id/attachments',
    operation: EmailAttachmentsDocument,
    variables: (req) => ({ emailId: req.params.id! }),
    respond: (d) => ({ data: d.emailAttachments.map(restAttachment) }),
  }),
  route({
    method: 'GET',
    path: '/api/attachments/:id',
    operation: GetAttachmentDocument,
    variables: (req) => ({ id: req.params.id! }),
    respond: (d) => ({ data: restAttachmentWithEmail(d.attachment) }),
  }),
];
