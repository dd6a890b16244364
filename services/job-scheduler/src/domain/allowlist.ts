import { BlockList, isIP } from 'node:net';

/**
 * Which hosts the scheduler may call (HTTP-callback jobs, push workers): a server-side request
 * to a URL a client chose is an SSRF hole unless both the name and the address it resolves to
 * are checked. A name must be on the allowlist (exactly, or under a `*.` wildcard); every address
 * it resolves to must be public unless private addresses are allowed (tests, a private network).
 * The address check runs inside the connection's DNS lookup, so the address checked is the one
 * connected to (no rebinding between a check and the request).
 */

const PRIVATE_RANGES = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE_RANGES.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  PRIVATE_RANGES.addSubnet(network, prefix, 'ipv6');
}

/** Loopback, private, link-local, CGNAT, multicast, reserved, or an IPv4-mapped one of those. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE_RANGES.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE_RANGES.check(mapped[1]!, 'ipv4');
  return PRIVATE_RANGES.check(address, 'ipv6');
}

export class HostNotAllowedError extends Error {
  constructor(
    readonly host: string,
    reason: string,
  ) {
    super(`${host}: ${reason}`);
    this.name = 'HostNotAllowedError';
  }
}

export interface AllowlistOptions {
  hosts: readonly string[];
  allowPrivate: boolean;
}

const URL_CHARS_MAX = 2_048;

export class HostAllowlist {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];

  constructor(private readonly options: AllowlistOptions) {
    for (const host of options.hosts) {
      const lower = host.toLowerCase();
      if (lower.startsWith('*.')) this.suffixes.push(lower.slice(1));
      else this.exact.add(lower);
    }
  }

  get allowPrivate(): boolean {
    return this.options.allowPrivate;
  }

  /** The parsed URL when its scheme, credentials and host pass; throws HostNotAllowedError. */
  checkUrl(raw: string): URL {
    if (raw.length > URL_CHARS_MAX) throw new HostNotAllowedError('?', `URL longer than ${URL_CHARS_MAX}`);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new HostNotAllowedError('?', 'not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new HostNotAllowedError(url.host, 'only http and https');
    if (url.username !== '' || url.password !== '')
      throw new HostNotAllowedError(url.host, 'credentials in the URL');
    this.checkName(url.hostname);
    return url;
  }

  /** A host name (or literal IP) on the allowlist; a literal IP must also pass the address check. */
  checkName(hostname: string): void {
    const host = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
    const listed = this.exact.has(host) || this.suffixes.some((suffix) => host.endsWith(suffix));
    if (!listed) throw new HostNotAllowedError(host, 'not on CALLBACK_ALLOWLIST');
    if (isIP(host) !== 0) this.checkAddress(host, host);
  }

  /** Every address a name resolves to is checked before a connection is made. */
  checkAddress(host: string, address: string): void {
    if (!this.options.allowPrivate && isPrivateAddress(address))
      throw new HostNotAllowedError(host, `resolves to a private address (${address})`);
  }
}
