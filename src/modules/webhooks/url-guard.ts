/**
 * SSRF guard for webhook targets (security-notes.md): `https` only, and every address a host resolves to must be a
 * public unicast address — loopback, private, link-local (incl. 169.254.169.254), CGNAT, unspecified, multicast,
 * reserved and IPv4-embedding IPv6 forms are refused, IPv4-mapped IPv6 is unwrapped first. Range classification is
 * ipaddr.js's, not hand-written CIDR math. Hosts in WEBHOOK_ALLOWED_HOSTS skip the address check and may use http.
 *
 * The check runs at creation (`check`) and again at connect time (`lookup`, installed on the delivery agent): the
 * socket connects to exactly the addresses that were vetted, so DNS rebinding between check and connect is moot.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';

export class UrlRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UrlRefusedError';
  }
}

/** IANA's global unicast space: every IPv6 address outside it is reserved, local or multicast (RFC 4291 §2.4). */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/** Why an address may not be a webhook target (the ipaddr.js range name), or null when it is public unicast. */
export function forbiddenRange(address: string): string | null {
  const unbracketed = address.replace(/^\[(.*)\]$/, '$1');
  const zone = unbracketed.indexOf('%'); // an IPv6 zone (`fe80::1%eth0`); not `/%.*$/`, quadratic on a run of `%`
  const bare = zone === -1 ? unbracketed : unbracketed.slice(0, zone);
  if (!ipaddr.isValid(bare)) return 'invalid';
  const ip = ipaddr.process(bare);
  const range = ip.range();
  if (range !== 'unicast') return range;
  // ipaddr.js calls whatever it has no name for `unicast`, e.g. the deprecated IPv4-compatible ::a.b.c.d (::/96,
  // reserved ::/8), which embeds an IPv4 address (::127.0.0.1, ::169.254.169.254) without being IPv4-mapped.
  if (ip.kind() === 'ipv6' && !ip.match(GLOBAL_UNICAST_V6)) return 'reserved';
  return null;
}

/** URL host without IPv6 brackets, lower case; IP literals in canonical form (so allow-list entries compare). */
function normalizeHost(host: string): string {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return ipaddr.isValid(bare) ? ipaddr.process(bare).toString() : bare.replace(/\.$/, '');
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export class UrlGuard {
  private readonly allowed: ReadonlySet<string>;

  constructor(allowedHosts: readonly string[]) {
    this.allowed = new Set(allowedHosts.map(normalizeHost));
  }

  isAllowListed(host: string): boolean {
    return this.allowed.has(normalizeHost(host));
  }

  /** Syntax and scheme rules (no DNS). Returns the parsed URL. */
  parse(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UrlRefusedError('must be an absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UrlRefusedError('must be an https URL');
    if (url.username || url.password) throw new UrlRefusedError('must not contain credentials');
    const allowListed = this.isAllowListed(url.hostname);
    if (url.protocol === 'http:' && !allowListed) throw new UrlRefusedError('must use https (plain http only for hosts in WEBHOOK_ALLOWED_HOSTS)');
    // `new URL` already turned 2130706433, 0177.0.0.1, 127.1 and 0x7f000001 into 127.0.0.1: check the literal now.
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!allowListed && ipaddr.isValid(host)) this.refuseAddress(url.hostname, host);
    return url;
  }

  /** Full check at creation: syntax, then every resolved address. */
  async check(raw: string): Promise<URL> {
    const url = this.parse(raw);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!this.isAllowListed(host) && !ipaddr.isValid(host)) await this.resolve(host);
    return url;
  }

  /** All addresses of `host`, each vetted (refused as a whole when any one is forbidden). */
  async resolve(host: string): Promise<LookupAddress[]> {
    let addresses: LookupAddress[];
    try {
      addresses = await dnsLookup(host, { all: true, verbatim: true });
    } catch {
      throw new UrlRefusedError(`host ${host} does not resolve`);
    }
    if (addresses.length === 0) throw new UrlRefusedError(`host ${host} does not resolve`);
    if (!this.isAllowListed(host)) for (const a of addresses) this.refuseAddress(host, a.address);
    return addresses;
  }

  /** A `net.connect` lookup that only ever yields vetted addresses (both the single and the `all` form). */
  readonly lookup = (host: string, options: { all?: boolean } | number, callback: LookupCallback): void => {
    const all = typeof options === 'object' && options.all === true;
    this.resolve(host).then(
      (addresses) => (all ? callback(null, addresses) : callback(null, addresses[0]!.address, addresses[0]!.family)),
      (err: Error) => callback(Object.assign(err, { code: 'EWEBHOOKREFUSED' }) as NodeJS.ErrnoException, all ? [] : ''),
    );
  };

  private refuseAddress(host: string, address: string): void {
    const range = forbiddenRange(address);
    if (range) throw new UrlRefusedError(`${host} resolves to a ${range} address (${address}), which is not allowed`);
  }
}
