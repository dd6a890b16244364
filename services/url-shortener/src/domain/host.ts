import { isIPv4, isIPv6 } from 'node:net';

/**
 * One spelling per host, so that a check compares hosts rather than spellings. The WHATWG URL
 * parser already folds numeric IPv4 spellings (`0x7f.1`, `2130706433`, `0177.0.0.1`, a trailing
 * dot) to dotted decimal and lower-cases names; this adds what it leaves alone: trailing dots of
 * names (`localhost.` is `localhost`), IPv6 addresses that carry an IPv4 one (`::ffff:127.0.0.1`,
 * written `[::ffff:7f00:1]` by the parser, the deprecated `::127.0.0.1`, NAT64 `64:ff9b::/96`),
 * and every name and address that means "this machine" (`localhost`, `*.localhost`, 127.0.0.0/8,
 * `::1`, and `0.0.0.0` / `::`, which clients connect to the local host).
 */

export type CanonicalHost =
  | { kind: 'loopback' }
  | { kind: 'ipv4'; address: string }
  | { kind: 'ipv6'; address: string }
  | { kind: 'name'; name: string };

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);
const IPV6_UNSPECIFIED = '0:0:0:0:0:0:0:0';
const IPV6_LOOPBACK = '0:0:0:0:0:0:0:1';

/** The eight hextets of an IPv6 address (no brackets, no zone), without leading zeros. */
export function expandIpv6(address: string): string[] {
  let text = address.toLowerCase();
  const embedded = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (embedded) {
    const [a, b, c, d] = embedded[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, embedded.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array(8 - headParts.length - tailParts.length).fill('0');
  return [...headParts, ...zeros, ...tailParts].map((part) => Number.parseInt(part, 16).toString(16));
}

function ipv4OfHextets(high: string, low: string): string {
  const value = (Number.parseInt(high, 16) << 16) | Number.parseInt(low, 16);
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** The IPv4 address an IPv6 one stands for (mapped, compatible or NAT64), if any. */
export function embeddedIpv4(hextets: readonly string[]): string | undefined {
  const prefix = hextets.slice(0, 6).join(':');
  if (prefix === '0:0:0:0:0:ffff' || prefix === '64:ff9b:0:0:0:0') {
    return ipv4OfHextets(hextets[6]!, hextets[7]!);
  }
  const joined = hextets.join(':');
  if (prefix === '0:0:0:0:0:0' && joined !== IPV6_UNSPECIFIED && joined !== IPV6_LOOPBACK) {
    return ipv4OfHextets(hextets[6]!, hextets[7]!);
  }
  return undefined;
}

function isLoopbackIpv4(address: string): boolean {
  return address.startsWith('127.') || address === '0.0.0.0';
}

/** A URL's `hostname` (or a listen address) as one canonical host. */
export function canonicalHost(hostname: string): CanonicalHost {
  const bare = hostname.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIPv6(bare)) {
    const hextets = expandIpv6(bare);
    const ipv4 = embeddedIpv4(hextets);
    if (ipv4 !== undefined) return canonicalHost(ipv4);
    const joined = hextets.join(':');
    if (joined === IPV6_LOOPBACK || joined === IPV6_UNSPECIFIED) return { kind: 'loopback' };
    return { kind: 'ipv6', address: joined };
  }
  if (isIPv4(bare)) return isLoopbackIpv4(bare) ? { kind: 'loopback' } : { kind: 'ipv4', address: bare };
  const name = bare.toLowerCase().replace(/\.+$/, '');
  if (LOOPBACK_NAMES.has(name) || name.endsWith('.localhost')) return { kind: 'loopback' };
  return { kind: 'name', name };
}

/** A canonical host as one comparable string. */
export function hostKey(host: CanonicalHost): string {
  switch (host.kind) {
    case 'loopback':
      return 'loopback';
    case 'ipv4':
    case 'ipv6':
      return host.address;
    case 'name':
      return host.name;
  }
}
