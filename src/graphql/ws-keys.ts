/**
 * Keeps open WebSockets in step with their API key. A socket authenticates once, in `connection_init`, but its key
 * can be revoked, deleted or changed while it stays open for hours. Each socket is therefore re-checked, through the
 * auth service and its cache:
 * - before every operation it starts (`check`);
 * - at once when the auth service reports a change to its key, made on any instance or by the CLI (NOTIFY);
 * - every KEY_CACHE_TTL_MS, in case a notification was lost (a LISTEN connection that dropped).
 *
 * A socket whose key no longer authenticates is closed with 4401 and one whose key lost `read` with 4403: the codes a
 * new connection would get. A key whose permissions or account scope changed otherwise also closes its sockets with
 * 4403, since their running subscriptions captured the old rights; graphql-ws clients retry on 4403 (not on 4401), so
 * they reconnect under the new ones.
 */
import { AppError, ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { hasPermissions, KEY_CACHE_TTL_MS, type AuthService, type Principal } from '../modules/auth/index.js';

/** What the socket layer needs of a `ws` WebSocket. */
export interface KeyedSocket {
  readonly readyState: number;
  close(code: number, reason: string): void;
  once(event: 'close', listener: () => void): unknown;
}

/** WebSocket.OPEN */
const WS_OPEN = 1;

interface Entry {
  readonly publicKey: string;
  readonly secret: string;
  principal: Principal;
}

export interface SocketKeysDeps {
  auth: AuthService;
  log: Logger;
  /** Runs a database call in its own unit of work (the auth service reads keys through the context's EntityManager). */
  inContext: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Safety re-check interval; default KEY_CACHE_TTL_MS. */
  sweepMs?: number;
}

function sameRights(a: Principal, b: Principal): boolean {
  if (a === b) return true;
  const set = (xs: readonly (string | number)[] | null) => (xs === null ? 'all' : [...xs].sort().join(','));
  return set(a.permissions) === set(b.permissions) && set(a.accountIds) === set(b.accountIds);
}

export class SocketKeys {
  private readonly sockets = new Map<KeyedSocket, Entry>();
  /** Open sockets per key id. */
  private readonly perKey = new Map<number, number>();
  private readonly stopListening: () => void;
  private readonly timer: NodeJS.Timeout;
  private sweep: Promise<void> | null = null;

  constructor(private readonly deps: SocketKeysDeps) {
    this.stopListening = deps.auth.onKeyChange((keyId) => void this.recheck((e) => e.principal.keyId === keyId));
    // One sweep at a time: with a database that hangs (no answer, no error), each would wait on it for as long, and
    // sweeps started every few seconds would pile up, each with its list of sockets and a query waiting for the pool.
    this.timer = setInterval(() => {
      this.sweep ??= this.recheck(() => true).finally(() => (this.sweep = null));
    }, deps.sweepMs ?? KEY_CACHE_TTL_MS);
    this.timer.unref();
  }

  /** Tracks an authenticated socket until it closes. */
  add(socket: KeyedSocket, credentials: { publicKey: string; secret: string }, principal: Principal): void {
    // A client that left while its key was being checked: 'close' was already emitted and would never remove it.
    if (socket.readyState !== WS_OPEN) return;
    this.sockets.set(socket, { ...credentials, principal });
    this.perKey.set(principal.keyId, this.connections(principal.keyId) + 1);
    socket.once('close', () => this.forget(socket));
  }

  /** Sockets open with this key on this instance. */
  connections(keyId: number): number {
    return this.perKey.get(keyId) ?? 0;
  }

  private forget(socket: KeyedSocket): void {
    const entry = this.sockets.get(socket);
    if (!entry || !this.sockets.delete(socket)) return;
    const left = this.connections(entry.principal.keyId) - 1;
    if (left > 0) this.perKey.set(entry.principal.keyId, left);
    else this.perKey.delete(entry.principal.keyId);
  }

  /**
   * The socket's current principal, or null after closing the socket because its key no longer allows it. Throws
   * what the auth service throws when the key cannot be checked (database unavailable): the socket stays open.
   */
  async check(socket: KeyedSocket): Promise<Principal | null> {
    const entry = this.sockets.get(socket);
    if (!entry) return null;
    let principal: Principal;
    try {
      principal = await this.deps.inContext(() => this.deps.auth.authenticate(entry.publicKey, entry.secret));
    } catch (err) {
      if (!(err instanceof AppError && err.code === ErrorCode.UNAUTHENTICATED)) throw err;
      return this.closeSocket(socket, 4401, 'Unauthorized: the API key was revoked or is no longer valid');
    }
    if (!hasPermissions(principal, ['read'])) return this.closeSocket(socket, 4403, 'Forbidden: the API key lacks the read permission');
    if (!sameRights(entry.principal, principal)) return this.closeSocket(socket, 4403, "Forbidden: the API key's permissions changed; reconnect");
    entry.principal = principal; // e.g. new rate limits
    return principal;
  }

  private closeSocket(socket: KeyedSocket, code: number, reason: string): null {
    this.forget(socket);
    socket.close(code, reason);
    return null;
  }

  private async recheck(which: (e: Entry) => boolean): Promise<void> {
    const sockets = [...this.sockets].filter(([, e]) => which(e)).map(([s]) => s);
    let failed: unknown;
    // One after the other: the cache makes all but the first check of a key free.
    for (const socket of sockets) await this.check(socket).catch((err: unknown) => (failed = err));
    if (failed) this.deps.log.warn({ err: failed }, 'could not re-check the API keys of open WebSockets; retrying later');
  }

  /** Stops listening and sweeping (the sockets are closed by the server). */
  dispose(): void {
    this.stopListening();
    clearInterval(this.timer);
  }
}
