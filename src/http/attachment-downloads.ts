/**
 * Binary attachment downloads (seed 000): `GET /api/emails/:id/attachments/:attachmentId` and
 * `GET /api/attachments/:id/download`. Plain Fastify routes, since bytes are not GraphQL; they run behind the same auth
 * and rate-limit hook as every route and require `read`. The second also opens with a signed URL instead of a key
 * (`expires` + `signature`, see modules/attachments/signed-urls.ts): that is what `cid:` images in sanitised HTML point
 * to. The file is streamed from the blob store, never buffered.
 *
 * Response headers: the stored `Content-Type`; `Content-Disposition` per RFC 6266/8187 (`attachment` unless `?inline=1`
 * on a type that cannot script: raster images and PDF); `X-Content-Type-Options: nosniff`; a CSP `sandbox` so that even
 * a mis-typed HTML/SVG file opened directly has no access to our origin (except inline PDF, which Chromium refuses
 * to render under `sandbox`; its scripts run in the PDF viewer, not in our origin); a strong `ETag` (the SHA-256
 * checksum) with `If-None-Match` → 304; single `Range` → 206, unsatisfiable → 416 with `Content-Range: bytes *\/size`.
 */
import { create as contentDisposition } from 'content-disposition';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { assertPermissions, type Principal } from '../modules/auth/index.js';
import { AppError } from '../shared/errors.js';
import type { Services } from '../modules/services.js';
import { bool } from '../rest/coerce.js';
import { asciiFilename } from '../shared/filenames.js';
import { parseId } from '../shared/ids.js';
import { etagMatches, parseRange } from './byte-range.js';

/** Types a browser displays without running anything from the file. */
const INLINE_SAFE = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/bmp', 'image/avif', 'application/pdf']);
const SANDBOX = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'";

interface DownloadTarget {
  id: number;
  emailId?: number;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** What a valid signed URL grants: reading the one attachment it names (checked by `download`). */
const SIGNED: Principal = { keyId: 0, name: 'signed attachment URL', permissions: ['read'], accountIds: null, limits: { perMinute: 0, perHour: 0 } };

/** The caller: the API key's principal, or — on a request the auth hook let through unauthenticated — a valid signature. */
function caller(services: Services, req: FastifyRequest, target: () => DownloadTarget): Principal {
  if (req.principal) return req.principal;
  const query = (req.query ?? {}) as Record<string, unknown>;
  const { id } = target();
  if (!services.attachmentUrls.verify(id, query.expires, query.signature)) throw new AppError('UNAUTHENTICATED', 'Invalid or expired signed URL');
  return SIGNED;
}

/** `target` parses the path ids: it runs after the permission check, so a key without `read` gets 403, not a 400. */
async function download(services: Services, req: FastifyRequest, reply: FastifyReply, target: () => DownloadTarget): Promise<FastifyReply> {
  const principal = caller(services, req, target);
  assertPermissions(principal, ['read']);
  const { id, emailId } = target();
  const query = (req.query ?? {}) as Record<string, unknown>;
  const wantsInline = bool(query.inline, 'inline') ?? false;
  const file = await services.attachments.openDownload(principal, id, { emailId });
  const { attachment, size } = file;
  const etag = `"${attachment.checksum}"`;
  const inline = wantsInline && INLINE_SAFE.has(attachment.mimeType);
  reply.header('ETag', etag);
  reply.header('Cache-Control', 'private, no-cache');
  reply.header('Accept-Ranges', 'bytes');
  reply.header('X-Content-Type-Options', 'nosniff');

  if (etagMatches(header(req, 'if-none-match'), etag)) {
    await file.close();
    return reply.code(304).send();
  }
  // If-Range with another validator: the client's partial copy is stale, so it gets the whole file.
  const ifRange = header(req, 'if-range');
  const range = ifRange !== undefined && ifRange.trim() !== etag ? { kind: 'full' as const } : parseRange(header(req, 'range'), size);
  if (range.kind === 'unsatisfiable') {
    await file.close();
    reply.header('Content-Range', `bytes */${size}`);
    return reply.code(416).send({ success: false, error: `Range not satisfiable: the file has ${size} bytes` });
  }

  reply.header('Content-Type', attachment.mimeType);
  reply.header('Content-Disposition', contentDisposition(attachment.filename, { type: inline ? 'inline' : 'attachment', fallback: asciiFilename(attachment.filename) }));
  if (!(inline && attachment.mimeType === 'application/pdf')) reply.header('Content-Security-Policy', SANDBOX);
  const partial = range.kind === 'partial' ? range : undefined;
  if (partial) reply.header('Content-Range', `bytes ${partial.start}-${partial.end}/${size}`);
  reply.header('Content-Length', partial ? partial.end - partial.start + 1 : size);
  reply.code(partial ? 206 : 200);
  if (req.method === 'HEAD') {
    await file.close();
    return reply.send();
  }
  return reply.send(file.stream(partial));
}

/** GET and HEAD explicitly: Fastify's implicit HEAD route would read the whole stream to discard it. */
export function registerAttachmentDownloads(app: FastifyInstance, services: Services): void {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/api/emails/:id/attachments/:attachmentId',
    handler: (req, reply) => {
      const params = req.params as { id: string; attachmentId: string };
      return download(services, req, reply, () => ({ emailId: parseId(params.id), id: parseId(params.attachmentId, 'attachment_id') }));
    },
  });
  app.route({
    method: ['GET', 'HEAD'],
    url: '/api/attachments/:id/download',
    config: { signedUrl: true },
    handler: (req, reply) => download(services, req, reply, () => ({ id: parseId((req.params as { id: string }).id) })),
  });
}
