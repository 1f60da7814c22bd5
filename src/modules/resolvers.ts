/** Every module's GraphQL resolvers, for buildSchema. */
import { AccountsResolver, AccountsSyncResolver } from './accounts/index.js';
import { AuthResolver } from './auth/index.js';
import { AttachmentsResolver } from './attachments/index.js';
import { EmailChangesResolver, EmailsResolver } from './emails/index.js';
import { EmailThreadResolver, ThreadsResolver } from './threads/index.js';
import { EventsResolver } from './events/index.js';
import { WebhooksResolver } from './webhooks/index.js';

export const resolvers = [AuthResolver, AccountsResolver, AccountsSyncResolver, AttachmentsResolver, EmailChangesResolver, EmailsResolver, ThreadsResolver, EmailThreadResolver, EventsResolver, WebhooksResolver] as const;
