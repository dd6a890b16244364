/**
 * Custom aliases: `[A-Za-z0-9_-]{3,32}`, minus words that name (or may one day name) the
 * service's own paths, compared without regard to case so `/Docs` cannot shadow `/docs` for a
 * reader. Codes share one namespace with aliases: an alias equal to an existing code is taken.
 * Aliases are also unique ignoring case (`DevLink` is taken once `devlink` exists): two links
 * whose names differ only in case are a phishing look-alike, and people type links in any case.
 */

export const ALIAS_PATTERN = /^[A-Za-z0-9_-]{3,32}$/;
export const ALIAS_MIN_LENGTH = 3;
export const ALIAS_MAX_LENGTH = 32;

export const RESERVED_ALIASES: ReadonlySet<string> = new Set([
  'v1',
  'v2',
  'api',
  'docs',
  'metrics',
  'healthz',
  'readyz',
  'health',
  'status',
  'admin',
  'login',
  'logout',
  'signup',
  'static',
  'assets',
  'public',
  'favicon',
  'robots',
  'sitemap',
  'www',
  'qr',
  'urls',
]);

/** Why an alias is refused, or undefined when it is acceptable. */
export function aliasProblem(alias: string): string | undefined {
  if (alias.length < ALIAS_MIN_LENGTH || alias.length > ALIAS_MAX_LENGTH) {
    return `must be ${ALIAS_MIN_LENGTH} to ${ALIAS_MAX_LENGTH} characters`;
  }
  if (!ALIAS_PATTERN.test(alias)) return 'may contain only letters, digits, _ and -';
  if (RESERVED_ALIASES.has(alias.toLowerCase())) return `"${alias}" is reserved`;
  return undefined;
}
