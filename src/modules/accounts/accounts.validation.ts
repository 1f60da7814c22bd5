/** Input rules for accounts (seed 000 "Mail Accounts"); errors name the field. */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { inboxCase } from '../../shared/folders.js';
import { isHost } from '../../shared/validation.js';
import { DELETE_MODES, ENCRYPTIONS } from './account.entity.js';

/**
 * An IPv6 address in its canonical form (RFC 5952: lower case, zeros compressed; an IPv4-mapped one keeps its dotted
 * quad), so that its other spellings are the same account identity (`0:0:0:0:0:0:0:1` is `::1`).
 */
function canonicalIpv6(s: string): string {
  if (!ipaddr.IPv6.isValid(s)) return s.toLowerCase();
  const address = ipaddr.IPv6.parse(s);
  return address.isIPv4MappedAddress() ? `::ffff:${address.toIPv4Address().toString()}` : address.toRFC5952String();
}

const hostname = z
  .string()
  .trim()
  .min(1)
  .max(255)
  .refine(isHost, 'must be a host name or IP address')
  // Sockets take an IPv6 address bare: `[::1]` would be looked up as a name and fail.
  .transform((s) => (s.startsWith('[') ? s.slice(1, -1) : s))
  .transform((s) => (isIP(s) === 6 ? canonicalIpv6(s) : s));

const folder = z
  .string()
  .min(1, 'folder names must not be empty')
  .max(255)
  .refine((s) => s.trim() !== '', 'folder names must not be blank')
  .refine((s) => !/[\r\n\0]/.test(s), 'folder names must not contain control characters')
  .transform(inboxCase);

const fields = {
  name: z.string().trim().min(2, 'must be 2–100 characters').max(100, 'must be 2–100 characters'),
  email: z.string().trim().max(320).email('must be an e-mail address'),
  host: hostname,
  port: z.number().int('must be an integer').min(1, 'must be 1–65535').max(65535, 'must be 1–65535'),
  username: z.string().min(1, 'is required').max(320).refine((s) => s.trim() !== '', 'is required'),
  password: z.string().min(1, 'is required').max(1024),
  encryption: z.enum(ENCRYPTIONS, { message: `must be one of ${ENCRYPTIONS.join(', ')}` }),
  isActive: z.boolean(),
  syncFolders: z
    .array(folder)
    .min(1, 'needs at least one folder')
    .max(200)
    .refine((names) => new Set(names).size === names.length, 'lists a folder twice'),
  deleteMode: z.enum(DELETE_MODES, { message: `must be one of ${DELETE_MODES.join(', ')}` }),
};

export const CreateAccountSchema = z.object({
  ...fields,
  encryption: fields.encryption.default('ssl'),
  isActive: fields.isActive.default(false),
  syncFolders: fields.syncFolders.default(['INBOX']),
  deleteMode: fields.deleteMode.default('trash'),
  testConnection: z.boolean().default(false),
});
export type CreateAccountInput = z.input<typeof CreateAccountSchema>;

export const UpdateAccountSchema = z.object({
  name: fields.name.optional(),
  email: fields.email.optional(),
  host: fields.host.optional(),
  port: fields.port.optional(),
  username: fields.username.optional(),
  password: fields.password.optional(),
  encryption: fields.encryption.optional(),
  isActive: fields.isActive.optional(),
  syncFolders: fields.syncFolders.optional(),
  deleteMode: fields.deleteMode.optional(),
  testConnection: z.boolean().default(false),
});
export type UpdateAccountInput = z.input<typeof UpdateAccountSchema>;
