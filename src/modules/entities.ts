/** Every MikroORM entity, listed once for the ORM config and the migration generator. */
import { Account } from './accounts/account.entity.js';
import { ApiKey, RateLimitCounter } from './auth/api-key.entity.js';

export const entities = [ApiKey, RateLimitCounter, Account];
