import type { ServiceLogger } from '@sysdesign/platform';
import { type HintedHandoff, Loop } from '@sysdesign/quorum';
import type { KvMetrics } from '../metrics.js';

/**
 * Hinted handoff on a schedule: each round drops hints older than HINTS_MAX_AGE_MS, then sends
 * every replica that gossip says is back the hints it is owed, in batches, deleting each once the
 * replica acknowledged it (the library's `HintedHandoff.runOnce`).
 */
export class HandoffWorker {
  private readonly handoff: HintedHandoff;
  private readonly logger: ServiceLogger;
  private readonly metrics: KvMetrics;
  private readonly loop: Loop;

  constructor(options: {
    handoff: HintedHandoff;
    logger: ServiceLogger;
    metrics: KvMetrics;
    intervalMs: number;
  }) {
    this.handoff = options.handoff;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.loop = new Loop({
      intervalMs: options.intervalMs,
      task: () => this.runOnce(),
      onError: (error) => this.logger.warn({ err: error }, 'hinted handoff round failed'),
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One round now (tests and operators); waits for a round already in flight instead. */
  runNow(): Promise<void> {
    return this.loop.runNow();
  }

  async runOnce(): Promise<void> {
    const round = await this.handoff.runOnce();
    if (round.delivered > 0) this.metrics.hintsHandedOff.inc(round.delivered);
    if (round.expired > 0) {
      this.metrics.hintsDropped.inc({ reason: 'expired' }, round.expired);
      this.logger.warn(
        { expired: round.expired },
        'hints expired before their replica returned: anti-entropy will repair it',
      );
    }
    if (round.delivered > 0 || round.failedReplicas.length > 0) {
      this.logger.info(
        { delivered: round.delivered, failedReplicas: round.failedReplicas },
        'hinted handoff round',
      );
    }
  }
}
