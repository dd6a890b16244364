/**
 * One error class with stable codes, so callers branch on `error.code` rather than on messages.
 * Every code is a caller mistake or a limit reached: the library never throws for a valid call.
 */

export const ConsistentHashingErrorCode = {
  /** A lookup on a placement that has no nodes. */
  EMPTY: 'CH_ERR_EMPTY',
  /** `add` of a node id that is already a member. */
  DUPLICATE_NODE: 'CH_ERR_DUPLICATE_NODE',
  /** `remove`, `setWeight` or a query naming a node that is not a member. */
  UNKNOWN_NODE: 'CH_ERR_UNKNOWN_NODE',
  /** A node id that is not a non-empty string of at most `MAX_NODE_ID_LENGTH` characters. */
  INVALID_NODE: 'CH_ERR_INVALID_NODE',
  /** A weight that is not a finite number > 0 (or too small to give a node a single virtual node). */
  INVALID_WEIGHT: 'CH_ERR_INVALID_WEIGHT',
  /** A key that is neither a string nor a Uint8Array. */
  INVALID_KEY: 'CH_ERR_INVALID_KEY',
  /** An option or argument out of its documented range (vnodes, table size, epsilon, count...). */
  INVALID_ARGUMENT: 'CH_ERR_INVALID_ARGUMENT',
  /** `preferenceList(key, n)` with n greater than the number of nodes. */
  NOT_ENOUGH_NODES: 'CH_ERR_NOT_ENOUGH_NODES',
  /** An operation the algorithm cannot do (weights on jump hash or modulo). */
  UNSUPPORTED: 'CH_ERR_UNSUPPORTED',
  /** A size limit was reached (tokens on a ring, tracked keys, nodes in a Maglev table). */
  LIMIT_EXCEEDED: 'CH_ERR_LIMIT_EXCEEDED',
  /** The ring changed while an iterator from `walk()` was still being consumed. */
  CONCURRENT_MODIFICATION: 'CH_ERR_CONCURRENT_MODIFICATION',
} as const;

export type ConsistentHashingErrorCode =
  (typeof ConsistentHashingErrorCode)[keyof typeof ConsistentHashingErrorCode];

export class ConsistentHashingError extends Error {
  override name = 'ConsistentHashingError';
  readonly code: ConsistentHashingErrorCode;

  constructor(code: ConsistentHashingErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function fail(code: ConsistentHashingErrorCode, message: string): never {
  throw new ConsistentHashingError(code, message);
}
