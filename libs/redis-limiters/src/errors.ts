/**
 * The library's errors. Expected failures are typed errors with a stable `code`; the Lua scripts
 * report theirs as the small negative numbers of `ScriptErrorCode`, turned into these classes in
 * one place (`errorFromScriptCode`).
 */

export type LimiterErrorCode =
  | 'INVALID_POLICY'
  | 'INVALID_ARGUMENT'
  | 'COST_EXCEEDS_LIMIT'
  | 'LIMITER_UNAVAILABLE'
  | 'UNEXPECTED_REPLY';

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
    super('INVALID_POLICY', `invalid rate-limit policy: ${problems.join('; ')}`);
  }
}

/** A key or cost the caller should never have passed (empty key, negative or fractional cost). */
export class InvalidArgumentError extends LimiterError {
  override name = 'InvalidArgumentError';
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
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
      'COST_EXCEEDS_LIMIT',
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
    super('LIMITER_UNAVAILABLE', `rate limiter unavailable (${reason})`, options);
  }
}

/** Error codes the Lua scripts return as `{code}`; each is a bug in the caller, caught by the scripts. */
export enum ScriptErrorCode {
  /** An ARGV slot is not a number or out of range. */
  InvalidArgument = -1,
  /** `cost` exceeds the capacity of the limiter. */
  CostExceedsLimit = -2,
}

export function errorFromScriptCode(code: number, context: { cost: number; capacity: number }): LimiterError {
  switch (code) {
    case ScriptErrorCode.InvalidArgument:
      return new InvalidArgumentError('a rate-limit script rejected its arguments');
    case ScriptErrorCode.CostExceedsLimit:
      return new CostExceedsLimitError(context.cost, context.capacity);
    default:
      return new LimiterError('UNEXPECTED_REPLY', `a rate-limit script returned the unknown code ${code}`);
  }
}
