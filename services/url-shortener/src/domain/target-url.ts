/**
 * Which long URLs the shortener accepts. A short link is a trust boundary: whoever clicks it
 * lands wherever it points, so only plain web addresses pass:
 * - http or https only (no `javascript:`, `data:`, `file:`, `ftp:`...);
 * - at most 2048 characters, before and after normalisation;
 * - no spaces or control characters (a URL carries them percent-encoded);
 * - no credentials (`https://bank.com@evil.example` reads as bank.com to a hurried eye);
 * - not this shortener itself (a link to a short link is a redirect chain, or a loop).
 * The accepted URL is stored in its WHATWG-normalised form (lower-case scheme and host, IDN as
 * punycode, non-ASCII percent-encoded), so it is safe to send back in a `Location` header.
 */

export const MAX_URL_LENGTH = 2048;
const ALLOWED_PROTOCOLS = new Set(['http:', 'https:']);
const PRINTABLE_ASCII = /^[\u0021-\u007e]+$/;
const LOOPBACK_HOSTNAMES = ['localhost', '127.0.0.1', '[::1]'];

export type TargetUrlCheck = { ok: true; url: string } | { ok: false; reason: string };

/** Where this shortener lives, to refuse URLs that point back at it. */
export interface SelfReference {
  /** `host[:port]` forms that reach this service (URL.host: lower-case, default port dropped). */
  hosts: ReadonlySet<string>;
  /** The base URL's path prefix without a trailing slash; empty when it is the host's root. */
  pathPrefix: string;
}

/** The hosts and path prefix of `PUBLIC_BASE_URL`; a loopback base also covers its loopback aliases. */
export function selfReferenceOf(publicBaseUrl: string): SelfReference {
  const base = new URL(publicBaseUrl);
  const hosts = new Set([base.host]);
  if (LOOPBACK_HOSTNAMES.includes(base.hostname)) {
    const port = base.port ? `:${base.port}` : '';
    for (const hostname of LOOPBACK_HOSTNAMES) hosts.add(`${hostname}${port}`);
  }
  return { hosts, pathPrefix: base.pathname.replace(/\/+$/, '') };
}

/** C0 controls, space, DEL and C1 controls: never raw in a URL, and some parsers drop them silently. */
function hasSpaceOrControl(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit <= 0x20 || (unit >= 0x7f && unit <= 0x9f)) return true;
  }
  return false;
}

function pointsAt(url: URL, self: SelfReference): boolean {
  if (!self.hosts.has(url.host)) return false;
  if (self.pathPrefix === '') return true;
  return url.pathname === self.pathPrefix || url.pathname.startsWith(`${self.pathPrefix}/`);
}

export function checkTargetUrl(input: string, self: SelfReference): TargetUrlCheck {
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
  if (pointsAt(url, self)) return { ok: false, reason: 'must not point back at this shortener' };
  const normalised = url.href;
  if (normalised.length > MAX_URL_LENGTH) {
    return { ok: false, reason: `must be at most ${MAX_URL_LENGTH} characters once normalised` };
  }
  // WHATWG serialisation percent-encodes everything else; this only guards the Location header.
  if (!PRINTABLE_ASCII.test(normalised)) return { ok: false, reason: 'cannot be represented safely' };
  return { ok: true, url: normalised };
}
