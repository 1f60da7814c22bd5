/** Permission rules shared by GraphQL's authChecker and the REST/WebSocket edges. */
import { AppError } from '../../shared/errors.js';
import type { Permission } from './api-key.entity.js';
import type { Principal } from './auth.service.js';

/** `admin` implies every other permission. */
export function hasPermissions(principal: Principal, required: readonly string[]): boolean {
  if (principal.permissions.includes('admin')) return true;
  return required.every((r) => principal.permissions.includes(r as Permission));
}

/** The authenticated principal of a context, or UNAUTHENTICATED. */
export function requirePrincipal(ctx: { principal: Principal | null }): Principal {
  if (!ctx.principal) throw AppError.unauthenticated('Authentication required');
  return ctx.principal;
}

/** Throws FORBIDDEN naming the missing permissions. */
export function assertPermissions(principal: Principal, required: readonly string[]): void {
  if (!hasPermissions(principal, required)) {
    const missing = required.filter((r) => !principal.permissions.includes(r as Permission));
    throw AppError.forbidden(`This API key lacks the permission(s): ${missing.join(', ')}`);
  }
}

/**
 * Key management (listing, creating, revoking keys) needs an unscoped key: keys belong to no account, and a key limited
 * to some accounts could otherwise mint an unscoped one and read every account, or revoke the keys of others.
 */
export function assertUnscoped(principal: Principal): void {
  if (principal.accountIds !== null) throw AppError.forbidden('This API key is limited to specific accounts and cannot manage API keys');
}
