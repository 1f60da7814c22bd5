/** Thin GraphQL resolvers for email changes (update, open, bulk actions, delete): permission → service call. */
import { Arg, Authorized, Ctx, ID, Mutation, Resolver } from '../type-graphql.js';
import { AppError } from '../../shared/errors.js';
import { parseId, withoutNulls } from '../../shared/ids.js';
import type { AppContext } from '../context.js';
import { requirePrincipal } from '../auth/index.js';
import type { BulkResult } from './email-changes.service.js';
import type { EmailDetail } from './email-row.js';
import { EmailType } from './emails.types.js';
import { BulkEmailAction, BulkEmailResultType, UpdateEmailInputType } from './email-changes.types.js';

@Resolver()
export class EmailChangesResolver {
  @Authorized('write')
  @Mutation(() => EmailType, { description: 'Changes flags and categories; read and star changes are written back to the IMAP server' })
  async updateEmail(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateEmailInputType) input: UpdateEmailInputType,
    @Ctx() ctx: AppContext,
  ): Promise<EmailDetail> {
    const principal = requirePrincipal(ctx);
    const emailId = parseId(id);
    const { categoryIds, ...flags } = withoutNulls(input);
    const change = { ...flags, ...(categoryIds ? { categoryIds: categoryIds.map((c) => parseId(c, 'categories')) } : {}) };
    if ((await ctx.services.emailChanges.update(principal, [emailId], change)).get(emailId) === 'not_found') throw AppError.notFound('Email', emailId);
    return ctx.services.emails.raw(principal, emailId);
  }

  @Authorized('read')
  @Mutation(() => EmailType, { description: 'The full email, marked read (and \\Seen on the server) as reading it does (GET /api/emails/{id})' })
  async openEmail(@Arg('id', () => ID) id: string, @Ctx() ctx: AppContext): Promise<EmailDetail> {
    const principal = requirePrincipal(ctx);
    const emailId = parseId(id);
    const email = await ctx.services.emails.raw(principal, emailId);
    if (email.isRead) return email;
    await ctx.services.emailChanges.update(principal, [emailId], { isRead: true });
    return ctx.services.emails.raw(principal, emailId);
  }

  @Authorized('write')
  @Mutation(() => [BulkEmailResultType], { description: 'Applies one action to many emails (at most 1000); unknown ids fail per id' })
  bulkEmails(
    @Arg('ids', () => [ID]) ids: string[],
    @Arg('action', () => BulkEmailAction) action: BulkEmailAction,
    @Ctx() ctx: AppContext,
  ): Promise<BulkResult[]> {
    return ctx.services.emailChanges.bulk(requirePrincipal(ctx), ids.map((id) => parseId(id, 'ids')), action);
  }

  @Authorized('write')
  @Mutation(() => Boolean, { description: 'Deletes the email and its attachments; on the server it goes to Trash or is expunged (account delete_mode)' })
  async deleteEmail(@Arg('id', () => ID) id: string, @Ctx() ctx: AppContext): Promise<boolean> {
    await ctx.services.emailChanges.deleteOne(requirePrincipal(ctx), parseId(id));
    return true;
  }
}
