/**
 * The client's address, for HTTP requests and WebSocket upgrades alike: the socket's peer, or with TRUST_PROXY the
 * address the trusted proxies forwarded (X-Forwarded-For, read from the right up to the first hop that is not a trusted
 * proxy), exactly as Fastify's `request.ip` does with the same trustProxy. Without TRUST_PROXY, X-Forwarded-For is
 * ignored: any client could otherwise pick the address it is throttled under.
 */
import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

export type TrustProxy = boolean | readonly string[];

/** Fastify's `trustProxy` option for the same setting. */
export function fastifyTrustProxy(trust: TrustProxy): boolean | string {
  return typeof trust === 'boolean' ? trust : trust.join(',');
}

export function clientAddressOf(trust: TrustProxy): (req: IncomingMessage) => string {
  const trusted = typeof trust === 'boolean' ? () => trust : proxyAddr.compile([...trust]);
  return (req) => proxyAddr(req, trusted) ?? req.socket.remoteAddress ?? 'unknown';
}
