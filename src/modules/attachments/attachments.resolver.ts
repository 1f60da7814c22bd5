/** Thin GraphQL resolvers for attachments: permission → service call. The bytes are REST-only (downloadUrl). */
import { Arg, Authorized, Ctx, FieldResolver, ID, Query, Resolver, Root } from '../type-graphql.js';
import { parseId } from '../../shared/ids.js';
import type { AppContext } from '../context.js';
import { requirePrincipal } from '../auth/index.js';
import type { AttachmentRow } from './attachments.service.js';
import { AttachmentType, attachmentDownloadUrl } from './attachments.types.js';

@Resolver(() => AttachmentType)
export class AttachmentsResolver {
  @Authorized('read')
  @Query(() => AttachmentType, { description: 'One attachment (metadata)' })
  attachment(@Arg('id', () => ID) id: string, @Ctx() ctx: AppContext): Promise<AttachmentRow> {
    return ctx.services.attachments.get(requirePrincipal(ctx), parseId(id));
  }

  @Authorized('read')
  @Query(() => [AttachmentType], { description: 'Attachments of an email, in message order' })
  emailAttachments(@Arg('emailId', () => ID) emailId: string, @Ctx() ctx: AppContext): Promise<AttachmentRow[]> {
    return ctx.services.attachments.listForEmail(requirePrincipal(ctx), parseId(emailId));
  }

  @FieldResolver(() => String)
  downloadUrl(@Root() attachment: AttachmentRow): string {
    return attachmentDownloadUrl(attachment.id);
  }
}
