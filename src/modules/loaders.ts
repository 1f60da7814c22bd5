/** Per-request DataLoaders of every module, created together for one GraphQL context. */
import type { Services } from './services.js';
import { createAccountLoaders, type AccountLoaders } from './accounts/index.js';
import { createAttachmentLoaders, type AttachmentLoaders } from './attachments/index.js';
import { createEmailLoaders, type EmailLoaders } from './emails/index.js';
import { createCategoryLoaders, type CategoryLoaders } from './categories/index.js';
import { createThreadLoaders, type ThreadLoaders } from './threads/index.js';

export type Loaders = AccountLoaders & AttachmentLoaders & EmailLoaders & CategoryLoaders & ThreadLoaders;

export function createLoaders(services: Services): Loaders {
  return {
    ...createAccountLoaders(services.accounts),
    ...createAttachmentLoaders(services.attachments),
    ...createEmailLoaders(services.emails),
    ...createCategoryLoaders(services.categories),
    ...createThreadLoaders(services.threads, services.emails),
  };
}
