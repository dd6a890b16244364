/**
 * A circuit breaker in front of Redis, so a dead or hung Redis costs callers nothing: after
 * `failureThreshold` consecutive failures it opens, and for `cooldownMs` every decision fails at
 * once without touching Redis. Then one probe is let through (half-open): its success closes the
 * breaker, its failure opens it for another cooldown. Share one breaker between all limiters that
 * use the same Redis.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  failureThreshold?: number;
  /** How long it stays open before a probe. Default 1,000 ms. */
  cooldownMs?: number;
  /** Called on every state change (for logs and metrics). */
  onStateChange?: (state: BreakerState) => void;
  /** Milliseconds; injectable for tests. Default `Date.now`. */
  clock?: () => number;
}

export const DEFAULT_FAILURE_THRESHOLD = 5;
export const DEFAULT_COOLDOWN_MS = 1_000;
const MAX_FAILURE_THRESHOLD = 1_000;
const MAX_COOLDOWN_MS = 600_000;

export class CircuitBreaker {
  private currentState: BreakerState = 'closed';
  private consecutiveFailures = 0;
  private openedAtMs = 0;
  private probeStartedAtMs: number | undefined;
  private readonly failureThreshold: number;
  readonly cooldownMs: number;
  private readonly clock: () => number;
  private readonly onStateChange: ((state: BreakerState) => void) | undefined;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD;
    this.cooldownMs = options.cooldownMs ?? DEFAULT_COOLDOWN_MS;
    if (
      !Number.isInteger(this.failureThreshold) ||
      this.failureThreshold < 1 ||
      this.failureThreshold > MAX_FAILURE_THRESHOLD
    ) {
      throw new RangeError(`failureThreshold must be a whole number from 1 to ${MAX_FAILURE_THRESHOLD}`);
    }
    if (!Number.isInteger(this.cooldownMs) || this.cooldownMs < 1 || this.cooldownMs > MAX_COOLDOWN_MS) {
      throw new RangeError(`cooldownMs must be a whole number from 1 to ${MAX_COOLDOWN_MS}`);
    }
    this.clock = options.clock ?? Date.now;
    this.onStateChange = options.onStateChange;
  }

  get state(): BreakerState {
    return this.currentState;
  }

  /** Whether a call may go to Redis now. In half-open, only one probe at a time may. */
  allowRequest(): boolean {
    if (this.currentState === 'closed') return true;
    const now = this.clock();
    if (this.currentState === 'open') {
      if (now - this.openedAtMs < this.cooldownMs) return false;
      this.transition('half-open');
    }
    // A probe whose outcome never came (it cannot, callers time out, but a bug must not wedge
    // the breaker) is replaced after a cooldown.
    if (this.probeStartedAtMs !== undefined && now - this.probeStartedAtMs < this.cooldownMs) return false;
    this.probeStartedAtMs = now;
    return true;
  }

  recordSuccess(): void {
    this.consecutiveFailures = 0;
    this.probeStartedAtMs = undefined;
    if (this.currentState !== 'closed') this.transition('closed');
  }

  recordFailure(): void {
    this.consecutiveFailures++;
    this.probeStartedAtMs = undefined;
    if (this.currentState === 'half-open' || this.consecutiveFailures >= this.failureThreshold) {
      this.openedAtMs = this.clock();
      if (this.currentState !== 'open') this.transition('open');
    }
  }

  private transition(state: BreakerState): void {
    this.currentState = state;
    this.onStateChange?.(state);
  }
}
