/**
 * The library's errors. Expected failures are typed errors with a stable `code` (`RL_ERR_*`, in the
 * manner of Fastify's `FST_ERR_*`); the Lua scripts report theirs as the small negative numbers of
 * `ScriptErrorCode`, turned into these classes in one place (`errorFromScriptCode`).
 */

export const LimiterErrorCode = {
  /** The policy is out of range (limit, window, burst, algorithm). */
  INVALID_POLICY: 'RL_ERR_INVALID_POLICY',
  /** A key, name, cost or time the caller should never have passed. */
  INVALID_ARGUMENT: 'RL_ERR_INVALID_ARGUMENT',
  /** The request costs more than the limiter can ever admit at once. */
  COST_EXCEEDS_LIMIT: 'RL_ERR_COST_EXCEEDS_LIMIT',
  /** Redis could not decide (timeout, disconnected, breaker open, error reply). */
  UNAVAILABLE: 'RL_ERR_UNAVAILABLE',
  /** Redis answered something the library does not understand. */
  UNEXPECTED_REPLY: 'RL_ERR_UNEXPECTED_REPLY',
  /** The Fastify plugin refused a request over its quota. */
  RATE_LIMITED: 'RL_ERR_RATE_LIMITED',
} as const;

export type LimiterErrorCode = (typeof LimiterErrorCode)[keyof typeof LimiterErrorCode];

export class LimiterError extends Error {
  override name = 'LimiterError';
  constructor(
    readonly code: LimiterErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class InvalidPolicyError extends LimiterError {
  override name = 'InvalidPolicyError';
  constructor(readonly problems: string[]) {
    super(LimiterErrorCode.INVALID_POLICY, `invalid rate-limit policy: ${problems.join('; ')}`);
  }
}

/** A key or cost the caller should never have passed (empty key, negative or fractional cost). */
export class InvalidArgumentError extends LimiterError {
  override name = 'InvalidArgumentError';
  constructor(message: string) {
    super(LimiterErrorCode.INVALID_ARGUMENT, message);
  }
}

/** The request costs more than the limiter can ever admit at once: waiting would not help. */
export class CostExceedsLimitError extends LimiterError {
  override name = 'CostExceedsLimitError';
  constructor(
    readonly cost: number,
    readonly capacity: number,
  ) {
    super(
      LimiterErrorCode.COST_EXCEEDS_LIMIT,
      `cost ${cost} exceeds the limiter's capacity of ${capacity}: it can never be admitted`,
    );
  }
}

export type UnavailableReason = 'timeout' | 'breaker-open' | 'disconnected' | 'error';

/**
 * Redis could not decide: it did not answer in time, the connection is down, the circuit breaker
 * is open, or it answered with an error. Callers apply their fail mode (open: admit, closed: refuse).
 */
export class LimiterUnavailableError extends LimiterError {
  override name = 'LimiterUnavailableError';
  constructor(
    readonly reason: UnavailableReason,
    options?: { cause?: unknown },
  ) {
    super(LimiterErrorCode.UNAVAILABLE, `rate limiter unavailable (${reason})`, options);
  }
}

/** Error codes the Lua scripts return as `{code}`; each is a bug in the caller, caught by the scripts. */
export const ScriptErrorCode = {
  /** An ARGV slot is not a number or out of range. */
  INVALID_ARGUMENT: -1,
  /** `cost` exceeds the capacity of the limiter. */
  COST_EXCEEDS_LIMIT: -2,
} as const;

export function errorFromScriptCode(code: number, context: { cost: number; capacity: number }): LimiterError {
  switch (code) {
    case ScriptErrorCode.INVALID_ARGUMENT:
      return new InvalidArgumentError('a rate-limit script rejected its arguments');
    case ScriptErrorCode.COST_EXCEEDS_LIMIT:
      return new CostExceedsLimitError(context.cost, context.capacity);
    default:
      return new LimiterError(
        LimiterErrorCode.UNEXPECTED_REPLY,
        `a rate-limit script returned the unknown code ${code}`,
      );
  }
}
