import { type CanonicalHost, canonicalHost, hostKey } from './host.js';
import { privateHostReason } from './private-address.js';

/**
 * Which long URLs the shortener accepts. A short link is a trust boundary: whoever clicks it
 * lands wherever it points, so only plain web addresses pass:
 * - http or https only (no `javascript:`, `data:`, `file:`, `ftp:`...);
 * - at most 2048 characters, before and after normalisation;
 * - no spaces or control characters (a URL carries them percent-encoded);
 * - no credentials (`https://bank.com@evil.example` reads as bank.com to a hurried eye);
 * - not this shortener itself, however its host is spelled (a link to a short link is a redirect
 *   chain, or a loop);
 * - with BLOCK_PRIVATE_TARGETS, no loopback, private, link-local, CGNAT or metadata host.
 * The accepted URL is stored in its WHATWG-normalised form (lower-case scheme and host, IDN as
 * punycode, non-ASCII percent-encoded), so it is safe to send back in a `Location` header.
 */

export const MAX_URL_LENGTH = 2048;
const ALLOWED_PROTOCOLS = new Set(['http:', 'https:']);
const PRINTABLE_ASCII = /^[\u0021-\u007e]+$/;
const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' };

export type TargetUrlCheck = { ok: true; url: string } | { ok: false; reason: string };

/** Where this shortener lives, to refuse URLs that point back at it. */
export interface SelfReference {
  /** `hostKey:port` of every address the service listens on: any path there reaches it. */
  listenOrigins: ReadonlySet<string>;
  /** `hostKey:port` forms of PUBLIC_BASE_URL: paths under `pathPrefix` there are short links. */
  baseOrigins: ReadonlySet<string>;
  /** The base URL's path prefix without a trailing slash; empty when it is the host's root. */
  pathPrefix: string;
}

export interface SelfReferenceOptions {
  publicBaseUrl: string;
  /** HOST and PORT; absent when the app does not listen itself (tests through inject). */
  listen?: { host: string; port: number } | undefined;
  /** The machine's interface addresses (os.networkInterfaces), for a wildcard HOST. */
  interfaceAddresses?: readonly string[] | undefined;
}

export interface TargetPolicy {
  /** BLOCK_PRIVATE_TARGETS: refuse loopback, private, link-local, CGNAT and metadata hosts. */
  blockPrivateTargets?: boolean | undefined;
}

function originKey(hostname: string, port: string): string {
  return `${hostKey(canonicalHost(hostname))}:${port}`;
}

function portOf(url: URL): string {
  return url.port || DEFAULT_PORTS[url.protocol] || '';
}

/** Every address a listener on `host` answers on: all interfaces for a wildcard, else that one. */
function listenHostnames(host: string, interfaceAddresses: readonly string[]): string[] {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '[::]';
  return wildcard ? ['127.0.0.1', ...interfaceAddresses] : [host];
}

/**
 * The origins that reach this service: PUBLIC_BASE_URL's (on both default ports when it uses
 * one: a proxy in front usually answers both) and every address it listens on, each in its
 * canonical form, so `localhost.`, `[::ffff:127.0.0.1]`, `0.0.0.0` and `0x7f.1` all match.
 */
export function selfReferenceOf(options: SelfReferenceOptions | string): SelfReference {
  const { publicBaseUrl, listen, interfaceAddresses } =
    typeof options === 'string' ? { publicBaseUrl: options } : options;
  const base = new URL(publicBaseUrl);
  const basePort = portOf(base);
  const basePorts = basePort === '80' || basePort === '443' ? ['80', '443'] : [basePort];
  const baseOrigins = new Set(basePorts.map((port) => originKey(base.hostname, port)));
  const listenOrigins = new Set<string>();
  if (listen) {
    for (const hostname of listenHostnames(listen.host, interfaceAddresses ?? [])) {
      listenOrigins.add(originKey(hostname, String(listen.port)));
    }
  }
  return { listenOrigins, baseOrigins, pathPrefix: base.pathname.replace(/\/+$/, '') };
}

/** C0 controls, space, DEL and C1 controls: never raw in a URL, and some parsers drop them silently. */
function hasSpaceOrControl(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit <= 0x20 || (unit >= 0x7f && unit <= 0x9f)) return true;
  }
  return false;
}

function pointsAt(url: URL, host: CanonicalHost, self: SelfReference): boolean {
  const origin = `${hostKey(host)}:${portOf(url)}`;
  if (self.listenOrigins.has(origin)) return true;
  if (!self.baseOrigins.has(origin)) return false;
  if (self.pathPrefix === '') return true;
  return url.pathname === self.pathPrefix || url.pathname.startsWith(`${self.pathPrefix}/`);
}

export function checkTargetUrl(
  input: string,
  self: SelfReference,
  policy: TargetPolicy = {},
): TargetUrlCheck {
  if (input.length === 0) return { ok: false, reason: 'must not be empty' };
  if (input.length > MAX_URL_LENGTH)
    return { ok: false, reason: `must be at most ${MAX_URL_LENGTH} characters` };
  if (hasSpaceOrControl(input)) {
    return { ok: false, reason: 'must not contain spaces or control characters (percent-encode them)' };
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, reason: 'must be an absolute http or https URL' };
  }
  if (!ALLOWED_PROTOCOLS.has(url.protocol)) {
    return { ok: false, reason: `scheme ${url.protocol} is not allowed; only http and https` };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, reason: 'must not contain credentials (user:password@)' };
  }
  if (url.hostname === '') return { ok: false, reason: 'must have a host' };
  const host = canonicalHost(url.hostname);
  if (pointsAt(url, host, self)) return { ok: false, reason: 'must not point back at this shortener' };
  const privateReason = policy.blockPrivateTargets ? privateHostReason(host) : undefined;
  if (privateReason) return { ok: false, reason: `must not point at ${privateReason}` };
  const normalised = url.href;
  if (normalised.length > MAX_URL_LENGTH) {
    return { ok: false, reason: `must be at most ${MAX_URL_LENGTH} characters once normalised` };
  }
  // WHATWG serialisation percent-encodes everything else; this only guards the Location header.
  if (!PRINTABLE_ASCII.test(normalised)) return { ok: false, reason: 'cannot be represented safely' };
  return { ok: true, url: normalised };
}
