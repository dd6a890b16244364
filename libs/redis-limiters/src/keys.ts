import { createHash } from 'node:crypto';
import { InvalidArgumentError } from './errors.js';
import type { Algorithm } from './policy.js';

/**
 * Every Redis key the limiters use is built here: `<prefix><name>:<algorithm>:{<key>}`.
 *
 * - The braces are a Redis Cluster hash tag: only the part inside them picks the slot, so every
 *   key that belongs to one limited identity lives in one slot (a multi-key script over them is
 *   legal on a cluster), while different identities spread over all slots.
 * - The user's key is percent-escaped (`%`, `{`, `}`, `#`), so a key containing braces cannot end
 *   the tag early or open another one, and distinct keys stay distinct.
 * - The algorithm is part of the name: switching a limiter's algorithm starts from a clean state
 *   instead of misreading another algorithm's, while changing its numbers keeps the state.
 * - A key longer than MAX_KEY_LENGTH (a hostile header, a long descriptor) is replaced by its
 *   SHA-256, so no input can make keys huge or a decision fail.
 */

export const DEFAULT_PREFIX = 'rl:';
/** Keys longer than this are stored as `#<sha256 hex>`; escaped short keys never start with `#`. */
export const MAX_KEY_LENGTH = 256;
const MAX_NAME_LENGTH = 128;

const ALGORITHM_CODES: Record<Algorithm, string> = {
  token_bucket: 'tb',
  leaking_bucket: 'lb',
  fixed_window: 'fw',
  sliding_window_log: 'sl',
  sliding_window_counter: 'sc',
  gcra: 'gc',
};

/** Checks a limiter name or key prefix once, when the limiter is made. */
/**
 * The limiter's options, checked for the one required field: a constructor called without them
 * (`new MemoryLimiter(policy)`) says what to pass instead of failing on `undefined.name`.
 */
export function checkLimiterOptions(limiter: string, options: unknown): void {
  const name =
    typeof options === 'object' && options !== null ? (options as { name?: unknown }).name : undefined;
  if (name === undefined) {
    throw new InvalidArgumentError(
      `${limiter} needs a name: new ${limiter}(policy, { name: 'api' }). The name is part of every key; limiters with the same name and algorithm share counters`,
    );
  }
}

export function checkKeyPart(what: 'name' | 'prefix', value: string): void {
  const minLength = what === 'name' ? 1 : 0;
  if (typeof value !== 'string' || value.length < minLength || value.length > MAX_NAME_LENGTH) {
    throw new InvalidArgumentError(
      `limiter ${what} must be a string of ${minLength} to ${MAX_NAME_LENGTH} characters`,
    );
  }
  if (value.includes('{') || value.includes('}')) {
    throw new InvalidArgumentError(
      `limiter ${what} must not contain braces: they would become the cluster hash tag`,
    );
  }
}

const ESCAPES: Record<string, string> = { '%': '%25', '{': '%7B', '}': '%7D', '#': '%23' };

/** Percent-escapes `%`, `{`, `}` and `#`: reversible, so no two keys collide, and no short key starts with `#`. */
export function escapeKey(key: string): string {
  return key.replace(/[%{}#]/g, (character) => ESCAPES[character]!);
}

/** The part of every key of one limiter that precedes the tag: `<prefix><name>:<algorithm>:`. */
export function keyBase(prefix: string, name: string, algorithm: Algorithm): string {
  return `${prefix}${name}:${ALGORITHM_CODES[algorithm]}:`;
}

/** The Redis key of one identity under one limiter. */
export function limiterKey(base: string, key: string): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidArgumentError('rate-limit key must be a non-empty string');
  }
  if (key.length > MAX_KEY_LENGTH) return `${base}{#${createHash('sha256').update(key).digest('hex')}}`;
  return `${base}{${escapeKey(key)}}`;
}
