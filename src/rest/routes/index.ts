/** The route table: every implemented /api path. Nothing else under /api exists. */
import type { RestRoute } from '../route.js';
import { accountRoutes } from './accounts.js';
import { authRoutes } from './auth.js';
import { attachmentRoutes } from './attachments.js';
import { emailRoutes } from './emails.js';
import { threadRoutes } from './threads.js';
import { emailWriteRoutes } from './emails-write.js';
import { webhookRoutes } from './webhooks.js';

export const restRoutes: readonly RestRoute[] = [...authRoutes, ...accountRoutes, ...attachmentRoutes, ...emailRoutes, ...threadRoutes, ...emailWriteRoutes, ...webhookRoutes];
