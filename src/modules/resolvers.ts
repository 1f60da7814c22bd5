/** Every module's GraphQL resolvers, for buildSchema. */
import { AccountsResolver } from './accounts/index.js';
import { AuthResolver } from './auth/index.js';

export const resolvers = [AuthResolver, AccountsResolver] as const;
