import { type Clock, systemClock } from './clock.js';
import { InvalidOptionError } from './errors.js';
import type { HintStore } from './hints.js';
import { Loop } from './loop.js';
import { allAlive, expectResponse, type HealthView, type NodeId, type Transport } from './transport.js';
import { digestVersions } from './version.js';

/**
 * Hinted handoff: a node holding hints checks, every `intervalMs`, which of the replicas it stands
 * in for are back (per the health view), sends each its hinted keys in batches, and deletes a hint
 * once the replica acknowledged it. A replica that fails mid-round is retried next round; hints too
 * old for the store's bound are dropped first (anti-entropy repairs what they carried).
 */

export const DEFAULT_HANDOFF_INTERVAL_MS = 1000;
export const DEFAULT_HANDOFF_KEYS_PER_ROUND = 1000;
export const DEFAULT_HANDOFF_BATCH_KEYS = 50;
export const DEFAULT_HANDOFF_TIMEOUT_MS = 2000;

export interface HintedHandoffOptions {
  hints: HintStore;
  transport: Transport;
  health?: HealthView;
  clock?: Clock;
  intervalMs?: number;
  /** Most keys handed off per round, across replicas: the bound on the work of one round. */
  maxKeysPerRound?: number;
  /** Keys per store request. */
  batchKeys?: number;
  timeoutMs?: number;
}

export interface HandoffRound {
  delivered: number;
  failedReplicas: NodeId[];
  expired: number;
}

export interface HandoffStats {
  rounds: number;
  delivered: number;
  failedBatches: number;
  expired: number;
}

export class HintedHandoff {
  private readonly hints: HintStore;
  private readonly transport: Transport;
  private readonly health: HealthView;
  private readonly clock: Clock;
  private readonly maxKeysPerRound: number;
  private readonly batchKeys: number;
  private readonly timeoutMs: number;
  private readonly loop: Loop;
  private readonly counters: HandoffStats = { rounds: 0, delivered: 0, failedBatches: 0, expired: 0 };

  constructor(options: HintedHandoffOptions) {
    this.hints = options.hints;
    this.transport = options.transport;
    this.health = options.health ?? allAlive;
    this.clock = options.clock ?? systemClock;
    this.maxKeysPerRound = atLeastOne(
      'maxKeysPerRound',
      options.maxKeysPerRound ?? DEFAULT_HANDOFF_KEYS_PER_ROUND,
    );
    this.batchKeys = atLeastOne('batchKeys', options.batchKeys ?? DEFAULT_HANDOFF_BATCH_KEYS);
    this.timeoutMs = atLeastOne('timeoutMs', options.timeoutMs ?? DEFAULT_HANDOFF_TIMEOUT_MS);
    const intervalMs = atLeastOne('intervalMs', options.intervalMs ?? DEFAULT_HANDOFF_INTERVAL_MS);
    this.loop = new Loop({ clock: this.clock, intervalMs, task: () => this.runOnce() });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  stats(): HandoffStats {
    return { ...this.counters };
  }

  /** One round: expire old hints, then hand off to every replica that is back, within the round's bound. */
  async runOnce(): Promise<HandoffRound> {
    const round: HandoffRound = {
      delivered: 0,
      failedReplicas: [],
      expired: await this.hints.expire(this.clock.now()),
    };
    this.counters.rounds++;
    this.counters.expired += round.expired;
    for (const owner of await this.hints.owners()) {
      const budget = this.maxKeysPerRound - round.delivered;
      if (budget <= 0) break;
      if (!this.health.isAlive(owner)) continue;
      const delivered = await this.handOff(owner, budget);
      round.delivered += delivered.count;
      if (!delivered.complete) round.failedReplicas.push(owner);
    }
    this.counters.delivered += round.delivered;
    return round;
  }

  private async handOff(owner: NodeId, budget: number): Promise<{ count: number; complete: boolean }> {
    const entries = await this.hints.pending(owner, budget);
    let count = 0;
    for (let start = 0; start < entries.length; start += this.batchKeys) {
      const batch = entries.slice(start, start + this.batchKeys);
      const digests = batch.map((entry) => digestVersions(entry.versions));
      try {
        const response = await this.transport.request(
          owner,
          { type: 'store', items: batch.map((entry) => ({ key: entry.key, versions: entry.versions })) },
          { timeoutMs: this.timeoutMs },
        );
        expectResponse(response, 'stored');
      } catch {
        this.counters.failedBatches++;
        return { count, complete: false };
      }
      for (const [index, entry] of batch.entries()) {
        await this.hints.delivered(owner, entry.key, digests[index]!);
      }
      count += batch.length;
    }
    return { count, complete: true };
  }
}

function atLeastOne(name: string, value: number): number {
  if (!(value >= 1)) throw new InvalidOptionError(name, `must be >= 1, got ${value}`);
  return value;
}
