/** Thin GraphQL resolvers for accounts: permission → service call. */
import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from '../type-graphql.js';
import { parseId, withoutNulls } from '../../shared/ids.js';
import type { AppContext } from '../context.js';
import { requirePrincipal } from '../auth/index.js';
import type { Account } from './account.entity.js';
import {
  AccountStatsType,
  AccountType,
  ConnectionTestType,
  CreateAccountInputType,
  FolderType,
  UpdateAccountInputType,
} from './accounts.types.js';

@Resolver(() => AccountType)
export class AccountsResolver {
  @Authorized('read')
  @Query(() => [AccountType], { description: 'Accounts visible to this API key' })
  accounts(@Ctx() ctx: AppContext): Promise<Account[]> {
    return ctx.services.accounts.list(requirePrincipal(ctx));
  }

  @Authorized('read')
  @Query(() => AccountType)
  account(@Arg('id', () => ID) id: string, @Ctx() ctx: AppContext): Promise<Account> {
    return ctx.services.accounts.get(requirePrincipal(ctx), parseId(id));
  }

  @Authorized('read')
  @Query(() => [FolderType], { description: 'Folders on the IMAP server with STATUS counts' })
  accountFolders(@Arg('id', () => ID) id: string, @Ctx() ctx: AppContext): Promise<FolderType[]> {
    return ctx.services.accounts.folders(requirePrincipal(ctx), parseId(id));
  }

  @Authorized('write')
  @Mutation(() => AccountType)
  createAccount(@Arg('input', () => CreateAccountInputType) input: CreateAccountInputType, @Ctx() ctx: AppContext): Promise<Account> {
    return ctx.services.accounts.create(requirePrincipal(ctx), withoutNulls(input) as CreateAccountInputType);
  }

  @Authorized('write')
  @Mutation(() => AccountType)
  updateAccount(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateAccountInputType) input: UpdateAccountInputType,
    @Ctx() ctx: AppContext,
  ): Promise<Account> {
    return ctx.services.accounts.update(requirePrincipal(ctx), parseId(id), withoutNulls(input));
  }

  @Authorized('write')
  @Mutation(() => Boolean, { description: 'Deletes the account; deleteEmails also removes its synced mail' })
  async deleteAccount(
    @Arg('id', () => ID) id: string,
    @Arg('deleteEmails', () => Boolean, { defaultValue: false }) deleteEmails: boolean,
    @Ctx() ctx: AppContext,
  ): Promise<boolean> {
    await ctx.services.accounts.delete(requirePrincipal(ctx), parseId(id), { deleteEmails });
    return true;
  }

  @Authorized('write')
  @Mutation(() => ConnectionTestType, { description: 'Logs in to the IMAP server and lists its folders' })
  testAccountConnection(@Arg('id', () => ID) id: string, @Ctx() ctx: AppContext): Promise<ConnectionTestType> {
    return ctx.services.accounts.testConnection(requirePrincipal(ctx), parseId(id));
  }

  // Figures about the account's mail: `write` alone (createAccount/updateAccount results) must not read them.
  @Authorized('read')
  @FieldResolver(() => AccountStatsType)
  stats(@Root() account: Account, @Ctx() ctx: AppContext): Promise<AccountStatsType> {
    return ctx.loaders.accountStats.load(account.id);
  }
}
