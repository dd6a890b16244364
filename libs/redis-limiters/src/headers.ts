import type { NormalizedPolicy } from './policy.js';
import type { LimitResult } from './result.js';

/**
 * The response headers of a rate-limit decision, in both vocabularies clients know:
 *
 * - the de-facto `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds until
 *   the quota is full again) and, on refusal, `Retry-After` (seconds);
 * - the IETF structured fields of draft-ietf-httpapi-ratelimit-headers:
 *   `RateLimit-Policy: "default";q=100;w=60` (quota per window in seconds) and
 *   `RateLimit: "default";r=0;t=30` (remaining, seconds until reset).
 *
 * Seconds are rounded up, and a window shorter than a second is announced as one second.
 */

export interface HeaderOptions {
  /** The X-RateLimit-* family. Default true. */
  legacy?: boolean;
  /** The IETF RateLimit-Policy / RateLimit fields. Default true. */
  draft?: boolean;
}

/** Lower-case names, as Fastify and Node store them. */
export const HEADER_NAMES = {
  limit: 'x-ratelimit-limit',
  remaining: 'x-ratelimit-remaining',
  reset: 'x-ratelimit-reset',
  retryAfter: 'retry-after',
  policy: 'ratelimit-policy',
  rateLimit: 'ratelimit',
} as const;

/** An RFC 8941 sf-string: printable ASCII, with `"` and `\` escaped. */
export function structuredString(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '');
  return `"${printable.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function secondsCeil(ms: number): number {
  return Math.ceil(ms / 1_000);
}

/** `"name";q=<limit>;w=<window seconds>`: computed once per policy, it never changes. */
export function policyHeaderValue(name: string, policy: NormalizedPolicy): string {
  return `${structuredString(name)};q=${policy.limit};w=${Math.max(1, secondsCeil(policy.windowMs))}`;
}

/** Sets the headers of one decision through `set` (e.g. `reply.header.bind(reply)`). */
export function writeRateLimitHeaders(
  set: (name: string, value: string) => unknown,
  result: LimitResult,
  meta: { name: string; policyHeader: string },
  options: HeaderOptions = {},
): void {
  const resetSeconds = String(secondsCeil(result.resetAfterMs));
  if (options.legacy !== false) {
    set(HEADER_NAMES.limit, String(result.limit));
    set(HEADER_NAMES.remaining, String(result.remaining));
    set(HEADER_NAMES.reset, resetSeconds);
  }
  if (options.draft !== false) {
    set(HEADER_NAMES.policy, meta.policyHeader);
    set(HEADER_NAMES.rateLimit, `${structuredString(meta.name)};r=${result.remaining};t=${resetSeconds}`);
  }
  if (!result.allowed && result.retryAfterMs > 0) {
    set(HEADER_NAMES.retryAfter, String(Math.max(1, secondsCeil(result.retryAfterMs))));
  }
}
