import type { FastifyRequest } from 'fastify';
import { LimiterError, LimiterErrorCode } from '../errors.js';

export type RefusalReason = 'rate-limited' | 'cost-too-high' | 'unavailable';

/** What the plugin knows about a refusal, handed to `errorResponseBuilder`. */
export interface RateLimitErrorContext {
  /** `rate-limited`: over the quota; `cost-too-high`: the request can never pass; `unavailable`: failing closed. */
  reason: RefusalReason;
  /** 429, or 503 for `unavailable`. */
  statusCode: 429 | 503;
  /** The policy's name. */
  policy: string;
  limit: number;
  remaining: number;
  /** How long until a retry can succeed; 0 when waiting would not help. */
  retryAfterMs: number;
  windowMs: number;
  /** What this request cost. */
  cost: number;
  /** One sentence for a human: what was refused and why. */
  detail: string;
  /** The limiter's error behind a `cost-too-high` or `unavailable` refusal. */
  error?: LimiterError;
}

/**
 * The default refusal: Fastify's error handler answers with its `statusCode` and a body of
 * `{ statusCode, code, error, message }`; an application's handler can read `context` to shape its own.
 */
export class RateLimitRefusedError extends LimiterError {
  override name = 'RateLimitRefusedError';
  constructor(
    code: LimiterErrorCode,
    readonly statusCode: number,
    message: string,
    readonly context: RateLimitErrorContext,
  ) {
    super(code, message, context.error === undefined ? undefined : { cause: context.error });
  }
}

/** Returns what the plugin throws for a refusal (an Error with `statusCode` suits Fastify's handler). */
export type ErrorResponseBuilder = (request: FastifyRequest, context: RateLimitErrorContext) => unknown;

const CODE_OF: Record<RefusalReason, LimiterErrorCode> = {
  'rate-limited': LimiterErrorCode.RATE_LIMITED,
  'cost-too-high': LimiterErrorCode.COST_EXCEEDS_LIMIT,
  unavailable: LimiterErrorCode.UNAVAILABLE,
};

/** The default: a `RateLimitRefusedError` carrying the status, the code and the context. */
export function defaultErrorResponseBuilder(
  _request: FastifyRequest,
  context: RateLimitErrorContext,
): RateLimitRefusedError {
  return new RateLimitRefusedError(CODE_OF[context.reason], context.statusCode, context.detail, context);
}
