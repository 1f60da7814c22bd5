/**
 * Sockets that have not authenticated yet, counted per client address (IPv6 by its /64, as the failed-authentication
 * throttle counts them). Such a socket costs the server a file descriptor and buffers but proves nothing: without a
 * bound, one client could open thousands that never send `connection_init` (each lives until the connection-init
 * timeout, and a client reopens them as fast as they close) and take every descriptor of the process, HTTP included.
 * A socket counts from its upgrade until its `connection_init` is accepted or it closes.
 */
import { addressSubject } from '../modules/auth/index.js';

/** What the counter needs of a `ws` WebSocket. */
export interface CountedSocket {
  once(event: 'close', listener: () => void): unknown;
}

export class UnauthenticatedSockets {
  private readonly perAddress = new Map<string, number>();
  private readonly subjects = new WeakMap<CountedSocket, string>();

  constructor(private readonly max: number) {}

  /** Counts a new socket against its address; false (not counted) when the address already has `max` of them. */
  admit(socket: CountedSocket, address: string): boolean {
    const subject = addressSubject(address);
    const n = this.perAddress.get(subject) ?? 0;
    if (n >= this.max) return false;
    this.perAddress.set(subject, n + 1);
    this.subjects.set(socket, subject);
    socket.once('close', () => this.authenticated(socket));
    return true;
  }

  /** The socket authenticated (or closed): it no longer counts. Idempotent. */
  authenticated(socket: CountedSocket): void {
    const subject = this.subjects.get(socket);
    if (subject === undefined) return;
    this.subjects.delete(socket);
    const left = (this.perAddress.get(subject) ?? 1) - 1;
    if (left > 0) this.perAddress.set(subject, left);
    else this.perAddress.delete(subject);
  }

  /** Unauthenticated sockets of this address now (tests, logs). */
  count(address: string): number {
    return this.perAddress.get(addressSubject(address)) ?? 0;
  }
}
