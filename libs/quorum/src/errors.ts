/**
 * Every expected failure of the library is a `QuorumError` with a stable `code`, so a service can
 * map codes to HTTP statuses in one table (the kv-store: NOT_MET -> 503, INVALID_CONTEXT -> 400,
 * TOO_MANY_SIBLINGS -> 409...). Anything else thrown from here is a bug.
 */

export const QuorumErrorCode = {
  /** Fewer than W (or R) replicas answered before the deadline. */
  NOT_MET: 'QUORUM_ERR_NOT_MET',
  /** One request to one peer took longer than its timeout. */
  TIMEOUT: 'QUORUM_ERR_TIMEOUT',
  /** The peer cannot be reached (unknown node, connection refused, this node is down). */
  UNREACHABLE: 'QUORUM_ERR_UNREACHABLE',
  /** The peer answered with an error. */
  REMOTE: 'QUORUM_ERR_REMOTE',
  /** An `X-Context` string that is not one we produced: bad base64url, truncated, oversized... */
  INVALID_CONTEXT: 'QUORUM_ERR_INVALID_CONTEXT',
  /** A peer message that does not parse or breaks a limit. */
  INVALID_MESSAGE: 'QUORUM_ERR_INVALID_MESSAGE',
  /** An option or argument out of range (W > N, an empty key...). */
  INVALID_OPTION: 'QUORUM_ERR_INVALID_OPTION',
  /** The write would leave more concurrent versions of the key than a replica keeps. */
  TOO_MANY_SIBLINGS: 'QUORUM_ERR_TOO_MANY_SIBLINGS',
  /** The write would leave the key's concurrent versions larger in bytes than a replica keeps. */
  SIBLINGS_TOO_LARGE: 'QUORUM_ERR_SIBLINGS_TOO_LARGE',
  /** This replica's actor has minted its last safe-integer counter: a restart gives it a new actor. */
  COUNTER_EXHAUSTED: 'QUORUM_ERR_COUNTER_EXHAUSTED',
  /** The hint store is at its count or byte bound, so this fallback cannot take the write. */
  HINTS_FULL: 'QUORUM_ERR_HINTS_FULL',
  /** The component was stopped while the operation was in flight. */
  STOPPED: 'QUORUM_ERR_STOPPED',
  /** A `VirtualClock` had pending timers and nothing advanced it (a test awaiting without `run`). */
  CLOCK_STALLED: 'QUORUM_ERR_CLOCK_STALLED',
} as const;

export type QuorumErrorCode = (typeof QuorumErrorCode)[keyof typeof QuorumErrorCode];

export class QuorumError extends Error {
  constructor(
    readonly code: QuorumErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'QuorumError';
  }
}

export function isQuorumError(error: unknown, code?: QuorumErrorCode): error is QuorumError {
  return error instanceof QuorumError && (code === undefined || error.code === code);
}

/** Why one replica did not count towards the quorum. */
export interface ReplicaFailure {
  node: string;
  reason: string;
}

export type QuorumOperation = 'get' | 'put' | 'delete';

/**
 * The quorum was not reached. Carries the numbers a client needs to decide what to do (retry with a
 * lower W, or report 503 "1 of 3 replicas answered, 2 required").
 */
export class QuorumNotMetError extends QuorumError {
  constructor(
    readonly operation: QuorumOperation,
    readonly key: string,
    /** W for writes, R for reads. */
    readonly required: number,
    /** Replicas that answered successfully before the deadline. */
    readonly answered: number,
    /** Replicas the coordinator sent the request to (N, or fewer when the preference list is short). */
    readonly contacted: number,
    readonly failures: readonly ReplicaFailure[],
    readonly timeoutMs: number,
  ) {
    super(
      QuorumErrorCode.NOT_MET,
      `${operation} needs ${required} of ${contacted} replicas; ${answered} answered within ${timeoutMs} ms` +
        (failures.length > 0
          ? ` (${failures.map((failure) => `${failure.node}: ${failure.reason}`).join('; ')})`
          : ''),
    );
    this.name = 'QuorumNotMetError';
  }
}

export class InvalidContextError extends QuorumError {
  constructor(readonly reason: string) {
    super(QuorumErrorCode.INVALID_CONTEXT, `invalid context: ${reason}`);
    this.name = 'InvalidContextError';
  }
}

export class InvalidMessageError extends QuorumError {
  constructor(
    /** Dotted path of the offending field, e.g. `items[2].versions[0].clock`. */
    readonly field: string,
    readonly reason: string,
  ) {
    super(QuorumErrorCode.INVALID_MESSAGE, `invalid message: ${field} ${reason}`);
    this.name = 'InvalidMessageError';
  }
}

export class InvalidOptionError extends QuorumError {
  constructor(
    readonly option: string,
    readonly reason: string,
  ) {
    super(QuorumErrorCode.INVALID_OPTION, `${option} ${reason}`);
    this.name = 'InvalidOptionError';
  }
}

/** Asserts a programmer's invariant (TigerBeetle style): a failure is a bug, never an input error. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
