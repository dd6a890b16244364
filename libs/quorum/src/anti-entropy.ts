import { type Clock, systemClock } from './clock.js';
import { InvalidOptionError } from './errors.js';
import { Loop } from './loop.js';
import { diffLeafEntries } from './merkle.js';
import { Random } from './random.js';
import type { Replica } from './replica.js';
import {
  allAlive,
  expectResponse,
  type HealthView,
  type KeyVersions,
  type NodeId,
  type PeerRequest,
  type PeerResponse,
  type Transport,
} from './transport.js';
import { onlyTombstonesBefore, versionsBytes } from './version.js';

/**
 * Anti-entropy: every `intervalMs` a node picks one of its key ranges and one live replica of it,
 * and the two reconcile that range through their Merkle trees:
 *
 *   1. compare hashes top-down, `levelsPerStep` levels per round trip, only under nodes that differ;
 *   2. exchange the (key, digest) lists of the differing leaves;
 *   3. pull the keys the peer has that differ, merge them, then push the merged sets back.
 *
 * Only differing ranges cross the network. Each round moves at most `maxKeysPerRound` keys and
 * about `bytesPerSecond * intervalMs / 1000` bytes (values and clocks); what is left differs on
 * the next round and is picked up then. Keys holding only tombstones older than the grace period
 * are neither pushed nor pulled.
 */

export const DEFAULT_ANTI_ENTROPY_INTERVAL_MS = 10_000;
export const DEFAULT_MAX_KEYS_PER_ROUND = 1000;
export const DEFAULT_BYTES_PER_SECOND = 1024 * 1024;
export const DEFAULT_LEVELS_PER_STEP = 4;
export const DEFAULT_MAX_HASHES_PER_REQUEST = 4096;
export const DEFAULT_ANTI_ENTROPY_TIMEOUT_MS = 5000;
/** Keys per push request. */
const PUSH_BATCH_KEYS = 100;
/**
 * (key, digest) pairs asked for per key of budget: differing leaves also list the keys that are
 * equal, and a list cut short only costs a few extra pushes, so a generous multiple is enough.
 */
const LEAF_ENTRIES_PER_KEY_BUDGET = 4;

export interface RangeReplicas {
  range: string;
  /** The replicas of the range (this node may be listed; it is skipped). */
  replicas: readonly NodeId[];
}

export interface AntiEntropyOptions {
  replica: Replica;
  transport: Transport;
  /** The ranges this node replicates and who else holds them; asked every round. */
  localRanges: () => readonly RangeReplicas[];
  health?: HealthView;
  clock?: Clock;
  random?: Random;
  intervalMs?: number;
  maxKeysPerRound?: number;
  bytesPerSecond?: number;
  levelsPerStep?: number;
  maxHashesPerRequest?: number;
  timeoutMs?: number;
}

export interface SyncBudget {
  maxKeys: number;
  maxBytes: number;
}

export interface SyncReport {
  peer: NodeId;
  range: string;
  roundTrips: number;
  /** Leaves whose hashes differed (0: the range was already in sync). */
  differingLeaves: number;
  /** Keys found different or missing on one side. */
  differingKeys: number;
  keysPulled: number;
  keysPushed: number;
  bytesPulled: number;
  bytesPushed: number;
  skippedTombstones: number;
  /** The budget ran out (or a list was cut): the rest is left for later rounds. */
  truncated: boolean;
}

export interface AntiEntropyStats {
  rounds: number;
  inSync: number;
  keysPulled: number;
  keysPushed: number;
  bytesPulled: number;
  bytesPushed: number;
  skippedTombstones: number;
}

export class AntiEntropy {
  private readonly replica: Replica;
  private readonly transport: Transport;
  private readonly localRanges: () => readonly RangeReplicas[];
  private readonly health: HealthView;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly budget: SyncBudget;
  private readonly levelsPerStep: number;
  private readonly maxHashesPerRequest: number;
  private readonly timeoutMs: number;
  private readonly intervalMs: number;
  private readonly loop: Loop;
  private readonly counters: AntiEntropyStats = {
    rounds: 0,
    inSync: 0,
    keysPulled: 0,
    keysPushed: 0,
    bytesPulled: 0,
    bytesPushed: 0,
    skippedTombstones: 0,
  };

  constructor(options: AntiEntropyOptions) {
    this.replica = options.replica;
    this.transport = options.transport;
    this.localRanges = options.localRanges;
    this.health = options.health ?? allAlive;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? new Random(Date.now() % 2 ** 31);
    const intervalMs = atLeastOne('intervalMs', options.intervalMs ?? DEFAULT_ANTI_ENTROPY_INTERVAL_MS);
    this.intervalMs = intervalMs;
    const bytesPerSecond = atLeastOne('bytesPerSecond', options.bytesPerSecond ?? DEFAULT_BYTES_PER_SECOND);
    this.budget = {
      maxKeys: atLeastOne('maxKeysPerRound', options.maxKeysPerRound ?? DEFAULT_MAX_KEYS_PER_ROUND),
      maxBytes: Math.max(1, Math.floor((bytesPerSecond * intervalMs) / 1000)),
    };
    this.levelsPerStep = atLeastOne('levelsPerStep', options.levelsPerStep ?? DEFAULT_LEVELS_PER_STEP);
    this.maxHashesPerRequest = atLeastOne(
      'maxHashesPerRequest',
      options.maxHashesPerRequest ?? DEFAULT_MAX_HASHES_PER_REQUEST,
    );
    this.timeoutMs = atLeastOne('timeoutMs', options.timeoutMs ?? DEFAULT_ANTI_ENTROPY_TIMEOUT_MS);
    this.loop = new Loop({ clock: this.clock, intervalMs, task: () => this.runOnce() });
  }

  start(): void {
    // A random first delay spreads the nodes' rounds over the interval.
    this.loop.start(1 + this.random.int(this.intervalMs));
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  stats(): AntiEntropyStats {
    return { ...this.counters };
  }

  /** One round with one random live replica of one random range; undefined when there is none. */
  async runOnce(): Promise<SyncReport | undefined> {
    const self = this.replica.self;
    const candidates: Array<{ range: string; peer: NodeId }> = [];
    for (const { range, replicas } of this.localRanges()) {
      for (const peer of replicas) {
        if (peer !== self && this.health.isAlive(peer)) candidates.push({ range, peer });
      }
    }
    if (candidates.length === 0) return undefined;
    const { range, peer } = this.random.pick(candidates);
    return this.syncRange(peer, range);
  }

  /** Reconciles one range with one peer, within `budget` (default: one round's). */
  async syncRange(peer: NodeId, range: string, budget: SyncBudget = this.budget): Promise<SyncReport> {
    this.counters.rounds++;
    const report: SyncReport = {
      peer,
      range,
      roundTrips: 0,
      differingLeaves: 0,
      differingKeys: 0,
      keysPulled: 0,
      keysPushed: 0,
      bytesPulled: 0,
      bytesPushed: 0,
      skippedTombstones: 0,
      truncated: false,
    };
    const leaves = await this.differingLeaves(peer, range, report);
    report.differingLeaves = leaves.length;
    if (leaves.length === 0) {
      this.counters.inSync++;
      return report;
    }
    const tree = this.replica.merkle(range);
    const remote = expectResponse(
      await this.ask(
        peer,
        {
          type: 'merkle-leaves',
          range,
          depth: tree.depth,
          leaves,
          maxKeys: budget.maxKeys * LEAF_ENTRIES_PER_KEY_BUDGET,
        },
        report,
      ),
      'leaf-entries',
    );
    if (remote.truncated) report.truncated = true;
    const diff = diffLeafEntries(
      leaves.flatMap((leaf) => tree.leafEntries(leaf)),
      remote.entries,
    );
    report.differingKeys = diff.onlyLocal.length + diff.onlyRemote.length + diff.different.length;
    let keyBudget = budget.maxKeys;
    const toPull = [...diff.onlyRemote, ...diff.different].slice(0, keyBudget);
    if (toPull.length < diff.onlyRemote.length + diff.different.length) report.truncated = true;
    await this.pull(peer, toPull, budget.maxBytes, report);
    keyBudget -= report.keysPulled;
    const toPush = [...diff.different, ...diff.onlyLocal].slice(0, Math.max(0, keyBudget));
    if (toPush.length < diff.different.length + diff.onlyLocal.length) report.truncated = true;
    await this.push(peer, toPush, Math.max(0, budget.maxBytes - report.bytesPulled), report);
    this.record(report);
    return report;
  }

  /** Walks both trees from the root, `levelsPerStep` levels per request, into subtrees that differ. */
  private async differingLeaves(peer: NodeId, range: string, report: SyncReport): Promise<number[]> {
    const tree = this.replica.merkle(range);
    let level = 0;
    let differing = [0];
    while (differing.length > 0) {
      const remote = expectResponse(
        await this.ask(
          peer,
          { type: 'merkle-hashes', range, depth: tree.depth, level, indexes: differing },
          report,
        ),
        'hashes',
      );
      const local = tree.hashesAt(level, differing);
      differing = differing.filter((_, position) => local[position] !== remote.hashes[position]);
      if (level === tree.depth || differing.length === 0) return differing;
      const nextLevel = Math.min(tree.depth, level + this.levelsPerStep);
      const fanout = 2 ** (nextLevel - level);
      const children: number[] = [];
      for (const index of differing) {
        if (children.length + fanout > this.maxHashesPerRequest && children.length > 0) {
          report.truncated = true;
          break;
        }
        for (let child = 0; child < fanout; child++) children.push(index * fanout + child);
      }
      differing = children;
      level = nextLevel;
    }
    return differing;
  }

  private async pull(
    peer: NodeId,
    keys: readonly string[],
    maxBytes: number,
    report: SyncReport,
  ): Promise<void> {
    if (keys.length === 0 || maxBytes <= 0) return;
    const fetched = expectResponse(
      await this.ask(peer, { type: 'fetch', keys: [...keys], maxBytes }, report),
      'fetched',
    );
    if (fetched.truncated) report.truncated = true;
    report.skippedTombstones += fetched.skippedTombstones;
    await this.replica.store(fetched.items);
    report.keysPulled += fetched.items.length;
    for (const item of fetched.items) report.bytesPulled += versionsBytes(item.versions);
  }

  private async push(
    peer: NodeId,
    keys: readonly string[],
    maxBytes: number,
    report: SyncReport,
  ): Promise<void> {
    const graceEndMs = this.clock.now() - this.replica.tombstoneGraceMs;
    let batch: KeyVersions[] = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      expectResponse(await this.ask(peer, { type: 'store', items: batch }, report), 'stored');
      report.keysPushed += batch.length;
      batch = [];
    };
    for (const key of keys) {
      if (bytes >= maxBytes) {
        report.truncated = true;
        break;
      }
      const versions = await this.replica.read(key);
      if (versions.length === 0) continue;
      if (onlyTombstonesBefore(versions, graceEndMs)) {
        report.skippedTombstones++;
        continue;
      }
      const size = versionsBytes(versions);
      bytes += size;
      report.bytesPushed += size;
      batch.push({ key, versions });
      if (batch.length >= PUSH_BATCH_KEYS) await flush();
    }
    await flush();
  }

  private async ask(peer: NodeId, request: PeerRequest, report: SyncReport): Promise<PeerResponse> {
    report.roundTrips++;
    return this.transport.request(peer, request, { timeoutMs: this.timeoutMs });
  }

  private record(report: SyncReport): void {
    this.counters.keysPulled += report.keysPulled;
    this.counters.keysPushed += report.keysPushed;
    this.counters.bytesPulled += report.bytesPulled;
    this.counters.bytesPushed += report.bytesPushed;
    this.counters.skippedTombstones += report.skippedTombstones;
  }
}

function atLeastOne(name: string, value: number): number {
  if (!(value >= 1)) throw new InvalidOptionError(name, `must be >= 1, got ${value}`);
  return value;
}
