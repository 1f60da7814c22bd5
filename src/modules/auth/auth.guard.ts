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
