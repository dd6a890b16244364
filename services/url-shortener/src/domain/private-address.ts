import { BlockList } from 'node:net';
import type { CanonicalHost } from './host.js';

/**
 * `BLOCK_PRIVATE_TARGETS`: hosts a public shortener should not send browsers to, because they
 * name the visitor's own machine or network, or a cloud provider's metadata service. The check
 * sees the URL only: a public name that resolves to a private address passes (see the README on
 * DNS), which is why the metadata service's well-known names are listed too.
 */

const BLOCKED_IPV4: ReadonlyArray<[string, number, string]> = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'a private address'],
  ['100.64.0.0', 10, 'a carrier-grade NAT address'],
  ['127.0.0.0', 8, 'a loopback address'],
  ['169.254.0.0', 16, 'a link-local address (cloud metadata lives here)'],
  ['172.16.0.0', 12, 'a private address'],
  ['192.0.0.0', 24, 'an IETF protocol address'],
  ['192.168.0.0', 16, 'a private address'],
  ['198.18.0.0', 15, 'a benchmarking address'],
  ['224.0.0.0', 4, 'a multicast address'],
  ['240.0.0.0', 4, 'a reserved address'],
];

const BLOCKED_IPV6: ReadonlyArray<[string, number, string]> = [
  ['fc00::', 7, 'a unique local address (AWS metadata fd00:ec2::254 is one)'],
  ['fe80::', 10, 'a link-local address'],
  ['ff00::', 8, 'a multicast address'],
];

/** Names of metadata services and of suffixes reserved for private networks. */
const BLOCKED_NAMES = new Set(['metadata', 'metadata.google.internal', 'instance-data']);
const BLOCKED_SUFFIXES = ['.internal', '.local', '.localdomain', '.home.arpa', '.lan', '.intranet'];

function listOf(ranges: ReadonlyArray<[string, number, string]>, type: 'ipv4' | 'ipv6') {
  return ranges.map(([network, prefix, reason]) => {
    const list = new BlockList();
    list.addSubnet(network, prefix, type);
    return { list, reason };
  });
}

const IPV4_LISTS = listOf(BLOCKED_IPV4, 'ipv4');
const IPV6_LISTS = listOf(BLOCKED_IPV6, 'ipv6');

/** Why a target host is private, or undefined when it may be linked to. */
export function privateHostReason(host: CanonicalHost): string | undefined {
  switch (host.kind) {
    case 'loopback':
      return 'a loopback address';
    case 'ipv4':
      return IPV4_LISTS.find(({ list }) => list.check(host.address, 'ipv4'))?.reason;
    case 'ipv6':
      return IPV6_LISTS.find(({ list }) => list.check(host.address, 'ipv6'))?.reason;
    case 'name':
      if (BLOCKED_NAMES.has(host.name)) return 'a metadata service';
      if (BLOCKED_SUFFIXES.some((suffix) => host.name.endsWith(suffix))) return 'a private network name';
      // A name without a dot only resolves through a local search domain: an intranet host.
      if (!host.name.includes('.')) return 'a single-label (intranet) name';
      return undefined;
  }
}
