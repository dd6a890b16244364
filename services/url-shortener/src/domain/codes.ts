import { createHash } from 'node:crypto';
import { encodeBase62, fixedBase62 } from './base62.js';

/**
 * The two ways the design makes a short code for a long URL.
 *
 * - `snowflake` (default): base62 of a unique 64-bit id. Never collides with another generated
 *   code, needs no read before the write, and leaks nothing about the URL; codes are 10-11
 *   characters and the same URL gets a new code each time (dedupe is a separate lookup).
 * - `hash`: the first 7 base62 characters of a hash of the URL. The same URL always maps to the
 *   same first candidate, so dedupe is free; different URLs may collide, which is resolved by
 *   appending a salt and rehashing (candidate 1, 2, ...), checking each against the store.
 */

export type CodeStrategyName = 'snowflake' | 'hash';

export const HASH_CODE_LENGTH = 7;
/** Every code, generated or chosen, is made of these characters (aliases add `_` and `-`). */
export const CODE_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** Maps a hash input to a non-negative integer; injected by tests to force collisions. */
export type CodeHash = (input: string) => bigint;

/** SHA-256, first 64 bits. Not for secrecy: only for a uniform spread over the code space. */
export const sha256Prefix: CodeHash = (input) =>
  createHash('sha256').update(input).digest().readBigUInt64BE(0);

/**
 * The hash input of a URL's `attempt`-th candidate. The salt is separated by a space, which no
 * accepted URL contains, so a salted input can never equal another URL's unsalted one.
 */
export function hashInput(url: string, attempt: number): string {
  return attempt === 0 ? url : `${url} ${attempt}`;
}

/** The `attempt`-th candidate code of `url` under the hash strategy. */
export function hashCandidate(url: string, attempt: number, hash: CodeHash = sha256Prefix): string {
  return fixedBase62(hash(hashInput(url, attempt)), HASH_CODE_LENGTH);
}

/** The code of a snowflake id. */
export function snowflakeCode(id: bigint): string {
  return encodeBase62(id);
}
