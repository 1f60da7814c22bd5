import DataLoader from 'dataloader';
import type { AccountsService, AccountStats } from './accounts.service.js';

export interface AccountLoaders {
  accountStats: DataLoader<number, AccountStats>;
}

/** Batches stats for every account in one response into one query. */
export function createAccountLoaders(accounts: AccountsService): AccountLoaders {
  return {
    accountStats: new DataLoader(async (ids) => {
      const map = await accounts.stats([...ids]);
      return ids.map((id) => map.get(id)!);
    }),
  };
}
