/** GraphQL type for attachments. Explicit type functions everywhere (no emitDecoratorMetadata). */
import { DateTimeISOResolver } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from '../type-graphql.js';

@ObjectType('Attachment', { description: 'A file of an email. The bytes are served by REST only (downloadUrl).' })
export class AttachmentType {
  @Field(() => ID) id!: number;
  @Field(() => ID) emailId!: number;
  @Field(() => String, { description: 'Safe file name (no path, controls or bidi characters)' }) filename!: string;
  @Field(() => String, { nullable: true, description: 'The name as given in the message, unsanitised: never use it as a path' })
  originalFilename!: string | null;
  @Field(() => String) mimeType!: string;
  @Field(() => Int) fileSize!: number;
  @Field(() => Boolean, { description: 'Referenced from the HTML body (Content-ID) or sent inline' }) isInline!: boolean;
  @Field(() => String, { nullable: true, description: 'Content-ID without angle brackets' }) contentId!: string | null;
  @Field(() => String, { description: 'SHA-256 of the content (also its strong ETag)' }) checksum!: string;
  @Field(() => DateTimeISOResolver) createdAt!: Date;
  @Field(() => String, { description: 'Relative URL of the file: /api/attachments/{id}/download' }) downloadUrl!: string;
}

/** The REST/GraphQL download path of an attachment (also the target of rewritten cid: images). */
export const attachmentDownloadUrl = (id: number): string => `/api/attachments/${id}/download`;
