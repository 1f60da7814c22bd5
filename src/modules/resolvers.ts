/** Every module's GraphQL resolvers, for buildSchema. */
import { AccountsResolver, AccountsSyncResolver } from './accounts/index.js';
import { AuthResolver } from './auth/index.js';

export const resolvers = [AuthResolver, AccountsResolver, AccountsSyncResolver] as const;
