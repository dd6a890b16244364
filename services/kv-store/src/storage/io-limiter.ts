/**
 * Bounds the disk bandwidth of background work (compaction) so foreground reads and writes keep
 * their latency: a token bucket over bytes, refilled at `bytesPerSecond`, with at most
 * `burstMs` worth of unused allowance carried over.
 */

/** Unused allowance carried over from idle time: enough for a few blocks, not a flood. */
const DEFAULT_BURST_MS = 100;

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class IoLimiter {
  /** When the bucket is next empty: the time by which all bytes consumed so far are paid for. */
  private paidUntilMs = Number.NEGATIVE_INFINITY;

  constructor(
    /** 0 means unlimited. */
    private readonly bytesPerSecond: number,
    private readonly now: () => number,
    private readonly sleep: Sleep = realSleep,
    private readonly burstMs = DEFAULT_BURST_MS,
  ) {}

  /** Resolves when `bytes` more may be read or written without exceeding the rate. */
  async consume(bytes: number): Promise<void> {
    if (this.bytesPerSecond === 0 || bytes <= 0) return;
    const nowMs = this.now();
    this.paidUntilMs =
      Math.max(this.paidUntilMs, nowMs - this.burstMs) + (bytes * 1000) / this.bytesPerSecond;
    const waitMs = this.paidUntilMs - nowMs;
    if (waitMs > 0) await this.sleep(waitMs);
  }
}
