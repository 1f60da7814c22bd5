/**
 * A webhook delivers mail (subjects, senders, flags) on behalf of the API key that set it up: the key that created it
 * or last changed it (`owner_key_id`). It may deliver only what that key could still read through the API. A key that
 * was revoked or deleted, lost `read`, or no longer sees the webhook's account (an account-wide webhook needs an
 * unscoped key) makes the delivery engine disable the webhook with the reason returned here; any key that may see the
 * webhook can re-enable it (`PUT … {"is_active": true}`), and so becomes its owner.
 */
import type { Permission } from '../auth/index.js';

export interface WebhookOwnerState {
  /** The webhook's owner key id; null for webhooks created before owners were recorded (no check). */
  ownerKeyId: number | null;
  /** Whether the owner key still exists (its id outlives it). */
  ownerExists: boolean;
  ownerRevoked: boolean;
  ownerPermissions: readonly Permission[] | null;
  /** The owner's account scope; null = every account. */
  ownerAccountIds: readonly number[] | null;
  /** The webhook's account; null = every account. */
  accountId: number | null;
}

/** Why the webhook may no longer deliver, or null when its owner still may read what it delivers. */
export function ownerRefusal(s: WebhookOwnerState): string | null {
  if (s.ownerKeyId === null) return null;
  const key = `the API key that set it up (id ${s.ownerKeyId})`;
  if (!s.ownerExists) return `Disabled: ${key} was deleted`;
  if (s.ownerRevoked) return `Disabled: ${key} was revoked`;
  const perms = s.ownerPermissions ?? [];
  if (!perms.includes('admin') && !perms.includes('read')) return `Disabled: ${key} no longer has the read permission`;
  if (s.ownerAccountIds !== null) {
    if (s.accountId === null) return `Disabled: ${key} is now limited to specific accounts and this webhook covers every account`;
    if (!s.ownerAccountIds.includes(s.accountId)) return `Disabled: ${key} no longer sees account ${s.accountId}`;
  }
  return null;
}
