import type { ServiceLogger } from '@sysdesign/platform';
import { type AntiEntropy, isQuorumError, Loop, QuorumErrorCode, type Replica } from '@sysdesign/quorum';
import type { KvMetrics } from '../metrics.js';
import type { StorageEngine } from '../storage/index.js';

/**
 * Scheduled anti-entropy: every ANTI_ENTROPY_INTERVAL_MS one replica group of this node is
 * compared with one live replica through their Merkle trees, and only the keys that differ move,
 * within the bandwidth bound (ANTI_ENTROPY_BYTES_PER_SECOND × the interval per round) and without
 * tombstones past their grace period (the library's `AntiEntropy`).
 *
 * Before each round the worker checks whether compaction dropped tombstones since the last one:
 * those keys left the store without the replica hearing of it, so the trees are rebuilt from a
 * scan (the `Replica.refresh` half of the ReplicaStore contract, done wholesale).
 */
export class AntiEntropyWorker {
  private readonly antiEntropy: AntiEntropy;
  private readonly replica: Replica;
  private readonly engine: StorageEngine;
  private readonly logger: ServiceLogger;
  private readonly metrics: KvMetrics;
  private readonly loop: Loop;
  private tombstonesDroppedSeen: number;

  constructor(options: {
    antiEntropy: AntiEntropy;
    replica: Replica;
    engine: StorageEngine;
    logger: ServiceLogger;
    metrics: KvMetrics;
    intervalMs: number;
  }) {
    this.antiEntropy = options.antiEntropy;
    this.replica = options.replica;
    this.engine = options.engine;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.tombstonesDroppedSeen = options.engine.stats().counters.tombstonesDropped;
    this.loop = new Loop({
      intervalMs: options.intervalMs,
      task: () => this.runOnce(),
      onError: (error) => {
        this.metrics.antiEntropyRounds.inc({ result: 'failed' });
        // A replica that is down or slow is routine (the next round picks another); anything else is not.
        if (isUnreachable(error))
          this.logger.info({ reason: (error as Error).message }, 'anti-entropy round skipped');
        else this.logger.warn({ err: error }, 'anti-entropy round failed');
      },
    });
  }

  start(intervalMs: number): void {
    // A random first delay spreads the nodes' rounds over the interval.
    this.loop.start(1 + Math.floor(Math.random() * intervalMs));
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  runNow(): Promise<void> {
    return this.loop.runNow();
  }

  async runOnce(): Promise<void> {
    const dropped = this.engine.stats().counters.tombstonesDropped;
    if (dropped > this.tombstonesDroppedSeen) {
      this.tombstonesDroppedSeen = dropped;
      await this.replica.rebuildMerkle();
      this.metrics.merkleRebuilds.inc({ reason: 'tombstones_purged' });
    }
    const report = await this.antiEntropy.runOnce();
    if (report === undefined) {
      this.metrics.antiEntropyRounds.inc({ result: 'no_live_replica' });
      return;
    }
    this.metrics.antiEntropyRounds.inc({ result: report.differingLeaves === 0 ? 'in_sync' : 'repaired' });
    if (report.differingLeaves === 0) return;
    this.metrics.antiEntropyKeys.inc({ direction: 'pulled' }, report.keysPulled);
    this.metrics.antiEntropyKeys.inc({ direction: 'pushed' }, report.keysPushed);
    this.metrics.antiEntropyBytes.inc({ direction: 'pulled' }, report.bytesPulled);
    this.metrics.antiEntropyBytes.inc({ direction: 'pushed' }, report.bytesPushed);
    this.logger.info(
      {
        peer: report.peer,
        range: report.range,
        differingKeys: report.differingKeys,
        keysPulled: report.keysPulled,
        keysPushed: report.keysPushed,
        bytesPulled: report.bytesPulled,
        bytesPushed: report.bytesPushed,
        truncated: report.truncated,
      },
      'anti-entropy repaired a range',
    );
  }
}

export function isUnreachable(error: unknown): boolean {
  return isQuorumError(error, QuorumErrorCode.UNREACHABLE) || isQuorumError(error, QuorumErrorCode.TIMEOUT);
}
