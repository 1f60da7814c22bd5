export { AttachmentsService, attachmentsEmbed, type AttachmentFile, type AttachmentRow, type BlobLocator, type AttachmentsServiceDeps } from './attachments.service.js';
export { createAttachmentLoaders, type AttachmentLoaders } from './attachments.loaders.js';
export { AttachmentType, attachmentDownloadUrl } from './attachments.types.js';
export { AttachmentsResolver } from './attachments.resolver.js';
export { AttachmentUrlSigner } from './signed-urls.js';
