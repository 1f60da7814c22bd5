/** Input rules for webhooks (seed 000 "Webhooks"); errors name the field. */
import { z } from 'zod';
import { EVENT_TYPES } from '../../events/index.js';

const secret = z
  .string()
  .max(256, 'must be at most 256 characters')
  .refine((s) => {
    if (!s.startsWith('whsec_')) return /^[\x21-\x7e]{16,}$/.test(s);
    const b64 = s.slice('whsec_'.length);
    const bytes = Buffer.from(b64, 'base64').length;
    return /^[A-Za-z0-9+/]+={0,2}$/.test(b64) && bytes >= 24 && bytes <= 64;
  }, 'must be whsec_ followed by 24–64 base64-encoded bytes, or 16–256 printable ASCII characters');

const fields = {
  name: z.string().trim().min(1, 'must be 1–100 characters').max(100, 'must be 1–100 characters'),
  url: z.string().trim().min(1, 'is required').max(2048, 'must be at most 2048 characters'),
  events: z
    .array(z.enum(EVENT_TYPES, { message: `must be one of ${EVENT_TYPES.join(', ')}` }))
    .min(1, 'needs at least one event')
    .transform((e) => [...new Set(e)]),
  secret,
  isActive: z.boolean(),
  accountId: z.number().int().positive(),
};

export const CreateWebhookSchema = z.object({
  name: fields.name.optional(),
  url: fields.url,
  events: fields.events,
  secret: fields.secret.optional(),
  isActive: fields.isActive.default(true),
  accountId: fields.accountId.optional(),
});
export type CreateWebhookInput = z.input<typeof CreateWebhookSchema>;

export const UpdateWebhookSchema = z.object({
  name: fields.name.optional(),
  url: fields.url.optional(),
  events: fields.events.optional(),
  secret: fields.secret.optional(),
  isActive: fields.isActive.optional(),
});
export type UpdateWebhookInput = z.input<typeof UpdateWebhookSchema>;
