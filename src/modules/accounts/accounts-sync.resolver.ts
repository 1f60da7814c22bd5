/** GraphQL: `syncAccount` (run a pass now) and the `syncProgress` subscription. */
import { AppError } from '../../shared/errors.js';
import { inboxCase } from '../../shared/folders.js';
import { parseId, withoutNulls } from '../../shared/ids.js';
import { parseDay, parseInput } from '../../shared/validation.js';
import { z } from 'zod';
import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Resolver, Root, Subscription } from '../type-graphql.js';
import { assertPermissions, requirePrincipal } from '../auth/index.js';
import type { AppContext } from '../context.js';
import type { SyncProgress } from './sync.port.js';
import { FolderSyncStateType, SyncAccountInputType, SyncProgressType, SyncResultType } from './accounts-sync.types.js';
import { AccountType } from './accounts.types.js';
import type { Account } from './account.entity.js';

const SyncSchema = z.object({
  folder: z.string().min(1).max(1000).optional(),
  fullResync: z.boolean().optional(),
  sinceDate: z.string().optional(),
});

@Resolver(() => AccountType)
export class AccountsSyncResolver {
  // Per-folder message counts: `write` alone (createAccount/updateAccount results) must not read them.
  @Authorized('read')
  @FieldResolver(() => [FolderSyncStateType], { description: 'Per-folder sync progress' })
  folderStates(@Root() account: Account, @Ctx() ctx: AppContext): Promise<FolderSyncStateType[]> {
    return ctx.services.folderStates.cursors(account.id);
  }

  @Authorized('write')
  @Mutation(() => SyncResultType, { description: 'Syncs the account now and returns the counts (joins a running sync)' })
  async syncAccount(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => SyncAccountInputType, { nullable: true }) input: SyncAccountInputType | null,
    @Ctx() ctx: AppContext,
  ): Promise<SyncResultType> {
    const args = parseInput(SyncSchema, withoutNulls(input ?? {}));
    const since = args.sinceDate ? parseDay(args.sinceDate, 'since_date') : undefined;
    const account = await ctx.services.accounts.get(requirePrincipal(ctx), parseId(id));
    const folder = args.folder && inboxCase(args.folder);
    if (folder && !account.syncFolders.includes(folder)) {
      throw AppError.badInput(`folder: "${folder}" is not one of the account's sync_folders`);
    }
    return ctx.services.sync.sync(account.id, {
      folder,
      full: args.fullResync,
      since,
    });
  }

  @Subscription(() => SyncProgressType, {
    description: 'Folder, done and total while a sync of the account runs (on any instance)',
    subscribe: async ({ args, context }) => {
      const ctx = context as AppContext;
      const principal = requirePrincipal(ctx);
      assertPermissions(principal, ['read']);
      const account = await ctx.services.accounts.get(principal, parseId(String(args.accountId)));
      return ctx.services.sync.progress(account.id);
    },
  })
  syncProgress(@Root() progress: SyncProgress, @Arg('accountId', () => ID) _accountId: string): SyncProgressType {
    return progress;
  }
}
