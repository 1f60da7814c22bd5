/**
 * Attachments: metadata (scope-checked through their email's account) and downloads from the content-addressed blob
 * store. The store is reached through a port (`BlobLocator`) so modules keep depending on nothing but `shared`.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { MikroORM } from '@mikro-orm/postgresql';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { Principal } from '../auth/index.js';
import { Attachment, Email } from '../emails/index.js';

/** Where a blob lives on disk (the blob store's `path`, which refuses anything but a sha256 key). */
export interface BlobLocator {
  path(key: string): string;
}

export interface AttachmentsServiceDeps {
  orm: MikroORM;
  blobs: BlobLocator;
  log: Logger;
}

/** An opened attachment file. The size is the file's, so Content-Length always matches what is streamed. */
export interface AttachmentFile {
  attachment: Attachment;
  size: number;
  /** Streams the file or an inclusive byte range; the stream owns the open file and closes it. At most once. */
  stream(range?: { start: number; end: number }): Readable;
  /** Releases the file when nothing is streamed (304, 416, HEAD). Idempotent, harmless after `stream`. */
  close(): Promise<void>;
}

/** The filter on an email's account: a scoped key never sees detached mail (account deleted, mail kept). */
function accountScope(principal: Principal): { account?: { $in: number[] } } {
  return principal.accountIds === null ? {} : { account: { $in: [...principal.accountIds] } };
}

export class AttachmentsService {
  constructor(private readonly deps: AttachmentsServiceDeps) {}

  private get em() {
    return this.deps.orm.em;
  }

  /** Attachments of an email in MIME order; NOT_FOUND when the email is unknown or outside the key's scope. */
  async listForEmail(principal: Principal, emailId: number): Promise<Attachment[]> {
    await this.requireEmail(principal, emailId);
    return this.em.find(Attachment, { email: emailId }, { orderBy: { id: 'asc' } });
  }

  /** One attachment; NOT_FOUND when unknown, outside the scope, or (with `emailId`) not a file of that email. */
  async get(principal: Principal, id: number, emailId?: number): Promise<Attachment> {
    const email = { ...accountScope(principal), ...(emailId === undefined ? {} : { id: emailId }) };
    const found = await this.em.findOne(Attachment, Object.keys(email).length === 0 ? { id } : { id, email });
    if (!found) throw AppError.notFound('Attachment', id);
    return found;
  }

  /** Attachments of many emails at once (DataLoader batch), without scope check: callers resolved the emails first. */
  async byEmailIds(emailIds: readonly number[]): Promise<Map<number, Attachment[]>> {
    const out = new Map<number, Attachment[]>();
    if (emailIds.length === 0) return out;
    const rows = await this.em.find(Attachment, { email: { $in: [...emailIds] } }, { orderBy: { id: 'asc' } });
    for (const a of rows) {
      const list = out.get(a.email.id);
      if (list) list.push(a);
      else out.set(a.email.id, [a]);
    }
    return out;
  }

  /**
   * Opens an attachment's file for download. The file is opened before any header is sent, so a missing blob is a
   * clean NOT_FOUND (logged as an error: a row points at a file that is gone) rather than a stream failing mid-reply.
   */
  async openDownload(principal: Principal, id: number, opts: { emailId?: number } = {}): Promise<AttachmentFile> {
    const attachment = await this.get(principal, id, opts.emailId);
    let fh: FileHandle;
    let size: number;
    try {
      fh = await open(this.deps.blobs.path(attachment.checksum), 'r');
      size = (await fh.stat()).size;
    } catch (err) {
      this.deps.log.error({ err, attachmentId: id, checksum: attachment.checksum }, 'attachment blob missing or unreadable');
      throw new AppError('NOT_FOUND', `Attachment ${id} file is not available`);
    }
    if (size !== attachment.fileSize) {
      this.deps.log.warn({ attachmentId: id, stored: attachment.fileSize, onDisk: size }, 'attachment size differs from its blob');
    }
    let streamed = false;
    return {
      attachment,
      size,
      stream(range) {
        streamed = true;
        return fh.createReadStream(range ? { start: range.start, end: range.end } : {});
      },
      async close() {
        if (!streamed) await fh.close().catch(() => undefined);
        streamed = true;
      },
    };
  }

  private async requireEmail(principal: Principal, emailId: number): Promise<void> {
    if ((await this.em.count(Email, { id: emailId, ...accountScope(principal) })) === 0) throw AppError.notFound('Email', emailId);
  }
}
