import DataLoader from 'dataloader';
import type { Account } from './account.entity.js';
import type { AccountsService, AccountStats } from './accounts.service.js';

export interface AccountLoaders {
  accountStats: DataLoader<number, AccountStats>;
  accountById: DataLoader<number, Account | null>;
}

/** Batches stats (and accounts by id) for every account in one response into one query. */
export function createAccountLoaders(accounts: AccountsService): AccountLoaders {
  return {
    accountStats: new DataLoader(async (ids) => {
      const map = await accounts.stats([...ids]);
      return ids.map((id) => map.get(id)!);
    }),
    accountById: new DataLoader(async (ids) => {
      const map = await accounts.byIds(ids);
      return ids.map((id) => map.get(id) ?? null);
    }),
  };
}
