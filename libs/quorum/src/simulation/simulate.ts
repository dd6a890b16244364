import { sleep } from '../clock.js';
import { QuorumError, QuorumNotMetError } from '../errors.js';
import type { NetworkStats } from '../memory-network.js';
import { Random } from '../random.js';
import type { NodeId } from '../transport.js';
import { EMPTY_CLOCK, type VectorClock } from '../vector-clock.js';
import { contextOf, formatDot, type Version } from '../version.js';
import { VirtualClock } from '../virtual-clock.js';
import { DEFAULT_SIMULATION_TIMING, SimulatedCluster, type SimulationTiming } from './cluster.js';
import { covers, History, type WriteRecord } from './history.js';

/**
 * A deterministic simulation of a Dynamo-style cluster: `clients` concurrent clients run
 * `operations` reads, read-modify-writes, blind writes and deletes over a few hot keys, through
 * random coordinators, while a fault injector crashes and restarts nodes, partitions the network
 * and loses and duplicates messages. Then the faults stop, and the run measures how long
 * anti-entropy and hinted handoff take to bring every replica to the same state.
 *
 * Checks, after every run:
 * - with R + W > N and strict quorum, every successful read contains every write acknowledged
 *   before it started (or a version that superseded it); with sloppy quorum, such misses are
 *   counted (the trade-off Dynamo makes) but must all be gone once hints are handed back;
 * - after convergence, a quorum read of every key contains every acknowledged write (for every
 *   N, R, W), and so does the union of all replicas' disks;
 * - no read returns a value nobody wrote, or more than `maxSiblings` siblings, and once converged a
 *   write over a full read of a key leaves one version: siblings resolve;
 * - with anti-entropy and hinted handoff on, the replicas converge within `convergenceLimitMs` of
 *   the faults stopping (every replica of every key holds every version that exists anywhere).
 *
 * Everything runs on a `VirtualClock` and one seeded `Random`: a seed replays exactly, and the
 * report carries the command that does it.
 */

export interface FaultPlan {
  /** How often the injector acts (virtual ms). */
  intervalMs: number;
  /** Probability, per action, of crashing a random running node (while fewer than maxDownNodes are down). */
  crashProbability: number;
  restartProbability: number;
  /** Probability of splitting the cluster in two random halves (when not already split). */
  partitionProbability: number;
  healProbability: number;
  /** Message loss and duplication while faults are on. */
  messageLossRate: number;
  duplicateRate: number;
  maxDownNodes: number;
}

/** About one crash a second, down for about a second; a partition every two seconds for about 0.7 s. */
export const DEFAULT_FAULT_PLAN: FaultPlan = Object.freeze({
  intervalMs: 100,
  crashProbability: 0.1,
  restartProbability: 0.1,
  partitionProbability: 0.05,
  healProbability: 0.15,
  messageLossRate: 0.03,
  duplicateRate: 0.02,
  maxDownNodes: 1,
});

export interface SimulationOptions {
  seed: number;
  nodes?: number;
  N?: number;
  R?: number;
  W?: number;
  clients?: number;
  /** Client operations in total (a read-modify-write counts once). */
  operations?: number;
  /** Distinct keys: few keys, many clients = contention, concurrent writes, siblings. */
  keys?: number;
  sloppy?: boolean;
  /** `false` for a fault-free run (latency jitter only). */
  faults?: Partial<FaultPlan> | false;
  antiEntropy?: boolean;
  hintedHandoff?: boolean;
  readRepair?: boolean;
  readFraction?: number;
  deleteFraction?: number;
  /** Of the writes, the share sent without reading first (they become siblings). */
  blindWriteFraction?: number;
  /** Clients pause up to this long between operations. */
  thinkTimeMs?: number;
  /**
   * Most live siblings a read may return before the run fails (default: 4 x clients). Siblings pile
   * up while reads are stale (a partition under sloppy quorum): every write made on a stale context
   * adds one until a read sees them all. Over 300 seeds of the default run the worst was 9 with 4
   * clients; a runaway count means superseded versions are not being dropped. The run also checks
   * that, once converged, one write over a full read leaves a single version of every key.
   */
  maxSiblings?: number;
  convergenceLimitMs?: number;
  timing?: Partial<SimulationTiming>;
  /**
   * Round-trip every message through the JSON wire codec, as over HTTP. Off by default: versions
   * are immutable, so sharing them between simulated nodes changes nothing but speed (about 3x).
   */
  serialize?: boolean;
}

export type NormalizedSimulationOptions = Required<Omit<SimulationOptions, 'faults' | 'timing'>> & {
  faults: FaultPlan | false;
  timing: SimulationTiming;
};

export interface LatencySummary {
  p50Ms: number;
  p99Ms: number;
}

export interface SimulationReport {
  seed: number;
  ok: boolean;
  violations: string[];
  /** The shell command that replays this exact run. */
  replay: string;
  options: NormalizedSimulationOptions;
  reads: { total: number; succeeded: number; stale: number; staleRate: number };
  writes: { total: number; acknowledged: number; failed: number; unknown: number };
  siblings: { max: number; mean: number };
  latency: { read: LatencySummary; write: LatencySummary };
  convergence: {
    converged: boolean;
    /** Virtual ms from the faults stopping to every replica holding every version of its keys. */
    afterMs: number;
    divergentKeysAtStop: number;
    pendingHintsAtStop: number;
  };
  faults: { crashes: number; restarts: number; partitions: number };
  network: NetworkStats;
  virtualMs: number;
}

const MAX_VIOLATIONS_REPORTED = 20;
const CONVERGENCE_CHECK_EVERY_MS = 25;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function normalizeSimulationOptions(options: SimulationOptions): NormalizedSimulationOptions {
  const clients = options.clients ?? 4;
  const normalized: NormalizedSimulationOptions = {
    seed: options.seed,
    nodes: options.nodes ?? 5,
    N: options.N ?? 3,
    R: options.R ?? 2,
    W: options.W ?? 2,
    clients,
    operations: options.operations ?? 200,
    keys: options.keys ?? 6,
    sloppy: options.sloppy ?? true,
    faults: options.faults === false ? false : { ...DEFAULT_FAULT_PLAN, ...options.faults },
    antiEntropy: options.antiEntropy ?? true,
    hintedHandoff: options.hintedHandoff ?? true,
    readRepair: options.readRepair ?? true,
    readFraction: options.readFraction ?? 0.4,
    deleteFraction: options.deleteFraction ?? 0.1,
    blindWriteFraction: options.blindWriteFraction ?? 0.1,
    thinkTimeMs: options.thinkTimeMs ?? 20,
    maxSiblings: options.maxSiblings ?? 4 * clients,
    convergenceLimitMs: options.convergenceLimitMs ?? 60_000,
    serialize: options.serialize ?? false,
    timing: { ...DEFAULT_SIMULATION_TIMING, ...options.timing },
  };
  const { nodes, N, R, W } = normalized;
  if (!Number.isInteger(normalized.seed)) throw new Error(`seed must be an integer, got ${normalized.seed}`);
  if (!(N >= 1 && N <= nodes)) throw new Error(`N must be in [1, nodes=${nodes}], got ${N}`);
  if (!(R >= 1 && R <= N && W >= 1 && W <= N)) throw new Error(`R and W must be in [1, N=${N}]`);
  return normalized;
}

/** The command that replays a run: the options as JSON for the package's `simulate` script. */
export function replayCommand(options: SimulationOptions): string {
  return `pnpm --filter @sysdesign/quorum run simulate --replay '${JSON.stringify(options)}'`;
}

export async function simulate(input: SimulationOptions): Promise<SimulationReport> {
  const options = normalizeSimulationOptions(input);
  const clock = new VirtualClock(0);
  const random = new Random(options.seed);
  const cluster = new SimulatedCluster({
    clock,
    random: random.fork(),
    nodes: options.nodes,
    n: options.N,
    r: options.R,
    w: options.W,
    sloppy: options.sloppy,
    antiEntropy: options.antiEntropy,
    hintedHandoff: options.hintedHandoff,
    readRepair: options.readRepair,
    timing: options.timing,
    serialize: options.serialize,
  });
  const run = new Run(options, clock, random, cluster);
  try {
    return await run.execute(replayCommand(input));
  } finally {
    cluster.stopAll();
  }
}

class Run {
  readonly history = new History();
  readonly violations: string[] = [];
  readonly keys: string[];
  readonly readLatencies: number[] = [];
  readonly writeLatencies: number[] = [];
  readonly siblingCounts: number[] = [];
  staleReads = 0;
  issued = 0;
  faultCounts = { crashes: 0, restarts: 0, partitions: 0 };
  private readonly clientRandom: Random;
  private readonly faultRandom: Random;
  private readonly strictCheck: boolean;

  constructor(
    readonly options: NormalizedSimulationOptions,
    readonly clock: VirtualClock,
    random: Random,
    readonly cluster: SimulatedCluster,
  ) {
    this.clientRandom = random.fork();
    this.faultRandom = random.fork();
    this.keys = Array.from({ length: options.keys }, (_, index) => `key-${index}`);
    this.strictCheck = !options.sloppy && options.R + options.W > options.N;
  }

  async execute(replay: string): Promise<SimulationReport> {
    const { options, clock, cluster } = this;
    await cluster.start();
    await clock.advance(options.timing.gossipIntervalMs * 3);
    const stopFaults = options.faults === false ? undefined : this.startFaults(options.faults);
    const clients = Array.from({ length: options.clients }, (_, client) => this.client(client));
    await clock.run(Promise.all(clients), { limitMs: 24 * 3_600_000 });
    if (stopFaults !== undefined) await clock.run(stopFaults());

    const stoppedAtMs = clock.now();
    const atStop = cluster.convergence();
    let state = atStop;
    while (!state.converged && clock.now() - stoppedAtMs < options.convergenceLimitMs) {
      await clock.advance(CONVERGENCE_CHECK_EVERY_MS);
      state = cluster.convergence();
    }
    const convergedAfterMs = clock.now() - stoppedAtMs;
    if (!state.converged && options.antiEntropy && options.hintedHandoff) {
      this.violation(
        `replicas did not converge within ${options.convergenceLimitMs} ms after faults stopped ` +
          `(${state.divergentKeys} keys differ, ${state.pendingHints} hints pending)`,
      );
    }
    await this.finalChecks(state.converged);

    const reads = this.history.reads;
    const succeeded = reads.filter((read) => read.ok).length;
    const writes = this.history.writes;
    return {
      seed: options.seed,
      ok: this.violations.length === 0,
      violations: this.violations.slice(0, MAX_VIOLATIONS_REPORTED),
      replay,
      options,
      reads: {
        total: reads.length,
        succeeded,
        stale: this.staleReads,
        staleRate: succeeded === 0 ? 0 : this.staleReads / succeeded,
      },
      writes: {
        total: writes.length,
        acknowledged: writes.filter((write) => write.outcome === 'acknowledged').length,
        failed: writes.filter((write) => write.outcome === 'failed').length,
        unknown: writes.filter((write) => write.outcome === 'unknown').length,
      },
      siblings: { max: Math.max(0, ...this.siblingCounts), mean: mean(this.siblingCounts) },
      latency: { read: summarize(this.readLatencies), write: summarize(this.writeLatencies) },
      convergence: {
        converged: state.converged,
        afterMs: convergedAfterMs,
        divergentKeysAtStop: atStop.divergentKeys,
        pendingHintsAtStop: atStop.pendingHints,
      },
      faults: { ...this.faultCounts },
      network: cluster.network.stats,
      virtualMs: clock.now(),
    };
  }

  private async client(client: number): Promise<void> {
    const random = this.clientRandom.fork();
    const contexts = new Map<string, VectorClock>();
    let sequence = 0;
    while (this.issued < this.options.operations) {
      this.issued++;
      await sleep(this.clock, 1 + random.int(this.options.thinkTimeMs));
      const key = random.pick(this.keys);
      const roll = random.next();
      if (roll < this.options.readFraction) {
        await this.read(client, key, random, contexts);
        continue;
      }
      const kind = roll < this.options.readFraction + this.options.deleteFraction ? 'delete' : 'put';
      let context: VectorClock | undefined;
      if (random.chance(this.options.blindWriteFraction))
        context = kind === 'put' ? undefined : contexts.get(key);
      else context = (await this.read(client, key, random, contexts)) ?? contexts.get(key);
      const value = kind === 'put' ? `c${client}.${++sequence}` : null;
      await this.write(client, kind, key, value, context, random);
    }
  }

  /** A read through a random running coordinator; returns the context read, if it succeeded. */
  private async read(
    client: number,
    key: string,
    random: Random,
    contexts: Map<string, VectorClock>,
  ): Promise<VectorClock | undefined> {
    const coordinator = this.pickCoordinator(random);
    if (coordinator === undefined) return undefined;
    const startMs = this.clock.now();
    try {
      const result = await this.cluster.node(coordinator).get(key);
      const endMs = this.clock.now();
      this.readLatencies.push(endMs - startMs);
      this.history.recordRead({ client, key, startMs, endMs, ok: true, versions: result.versions });
      this.siblingCounts.push(result.values.length);
      this.checkRead(
        key,
        startMs,
        result.versions,
        `read by client ${client} at ${startMs.toFixed(1)} ms via ${coordinator}`,
      );
      contexts.set(key, result.context);
      return result.context;
    } catch (error) {
      this.history.recordRead({ client, key, startMs, endMs: this.clock.now(), ok: false });
      rethrowBug(error);
      return undefined;
    }
  }

  private async write(
    client: number,
    kind: 'put' | 'delete',
    key: string,
    value: string | null,
    context: VectorClock | undefined,
    random: Random,
  ): Promise<void> {
    const coordinator = this.pickCoordinator(random);
    if (coordinator === undefined) return;
    this.history.noteAttempt(value);
    const startMs = this.clock.now();
    const record: WriteRecord = { kind, client, key, value, startMs, endMs: startMs, outcome: 'unknown' };
    try {
      const node = this.cluster.node(coordinator);
      const result =
        value === null
          ? await node.delete(key, context ?? EMPTY_CLOCK)
          : await node.put(key, encoder.encode(value), context);
      record.outcome = 'acknowledged';
      record.dot = result.version.dot;
      this.writeLatencies.push(this.clock.now() - startMs);
    } catch (error) {
      rethrowBug(error);
      record.outcome = error instanceof QuorumNotMetError ? 'failed' : 'unknown';
    }
    record.endMs = this.clock.now();
    this.history.recordWrite(record);
  }

  private checkRead(key: string, startMs: number, versions: readonly Version[], what: string): void {
    const { missing, phantoms } = this.history.check(key, startMs, versions);
    for (const phantom of phantoms) this.violation(`${what} returned a value nobody wrote: ${phantom}`);
    if (this.siblingCounts.at(-1)! > this.options.maxSiblings) {
      this.violation(
        `${what} returned ${this.siblingCounts.at(-1)} siblings, more than ${this.options.maxSiblings}`,
      );
    }
    if (missing.length === 0) return;
    this.staleReads++;
    if (this.strictCheck) this.violation(`${what} misses acknowledged ${describeWrites(missing)}`);
  }

  private async finalChecks(converged: boolean): Promise<void> {
    const { options, cluster, clock } = this;
    const mustSeeAll = converged || (!options.sloppy && options.R + options.W > options.N);
    for (const key of this.history.keys()) {
      const everything = cluster.everything(key);
      const lost = this.acknowledged(key).filter((write) => !covers(everything, write.dot!));
      if (lost.length > 0) this.violation(`'${key}': no replica holds acknowledged ${describeWrites(lost)}`);
      const coordinator = cluster.upNodes()[0]!;
      const startMs = clock.now();
      let versions: Version[];
      try {
        versions = (await clock.run(cluster.node(coordinator).get(key))).versions;
      } catch (error) {
        this.violation(`final read of '${key}' failed after the faults stopped: ${String(error)}`);
        continue;
      }
      const { missing } = this.history.check(key, startMs, versions);
      if (missing.length > 0 && mustSeeAll) {
        this.violation(`final quorum read of '${key}' misses acknowledged ${describeWrites(missing)}`);
      }
      // Without convergence a quorum read may not see every sibling, so a write over it cannot resolve them all.
      if (converged) await this.checkResolves(coordinator, key, contextOf(versions));
    }
  }

  /** Siblings are bounded because they resolve: one write over a full read leaves a single version. */
  private async checkResolves(coordinator: NodeId, key: string, context: VectorClock): Promise<void> {
    const { cluster, clock, options } = this;
    try {
      const value = `final.${key}`;
      this.history.noteAttempt(value);
      await clock.run(cluster.node(coordinator).put(key, encoder.encode(value), context));
      await clock.advance(options.timing.requestTimeoutMs);
      const after = await clock.run(cluster.node(coordinator).get(key, { r: options.N }));
      const values = after.values.map((bytes) => decoder.decode(bytes));
      if (after.versions.length !== 1 || values[0] !== value) {
        this.violation(
          `a write over the full context of '${key}' left ${JSON.stringify(values)}, not one version`,
        );
      }
    } catch (error) {
      this.violation(`resolving the siblings of '${key}' failed after the faults stopped: ${String(error)}`);
    }
  }

  private acknowledged(key: string): WriteRecord[] {
    return this.history.writes.filter((write) => write.key === key && write.outcome === 'acknowledged');
  }

  private pickCoordinator(random: Random): NodeId | undefined {
    const up = this.cluster.upNodes();
    return up.length === 0 ? undefined : random.pick(up);
  }

  /** Starts the fault injector; the returned function stops it and repairs everything. */
  private startFaults(plan: FaultPlan): () => Promise<void> {
    const { cluster, clock } = this;
    const random = this.faultRandom;
    cluster.network.setFaults({ dropRate: plan.messageLossRate, duplicateRate: plan.duplicateRate });
    let partitioned = false;
    let running = true;
    const act = () => {
      if (!running) return;
      const down = cluster.downNodes();
      if (down.length < plan.maxDownNodes && random.chance(plan.crashProbability)) {
        cluster.crash(random.pick(cluster.upNodes()));
        this.faultCounts.crashes++;
      } else if (down.length > 0 && random.chance(plan.restartProbability)) {
        void cluster.restart(random.pick(down));
        this.faultCounts.restarts++;
      }
      if (!partitioned && random.chance(plan.partitionProbability)) {
        const shuffled = random.shuffle(cluster.nodeIds);
        const cut = 1 + random.int(shuffled.length - 1);
        cluster.network.partition(shuffled.slice(0, cut), shuffled.slice(cut));
        partitioned = true;
        this.faultCounts.partitions++;
      } else if (partitioned && random.chance(plan.healProbability)) {
        cluster.network.heal();
        partitioned = false;
      }
      clock.setTimer(plan.intervalMs, act);
    };
    clock.setTimer(plan.intervalMs, act);
    return async () => {
      running = false;
      cluster.network.heal();
      cluster.network.setFaults({ dropRate: 0, duplicateRate: 0 });
      for (const id of cluster.downNodes()) {
        await cluster.restart(id);
        this.faultCounts.restarts++;
      }
    };
  }

  private violation(message: string): void {
    this.violations.push(message);
  }
}

function describeWrites(writes: readonly WriteRecord[]): string {
  return writes
    .slice(0, 3)
    .map(
      (write) =>
        `${write.kind} ${write.value ?? '(tombstone)'} by client ${write.client} ` +
        `[${write.startMs.toFixed(1)}-${write.endMs.toFixed(1)} ms] dot ${formatDot(write.dot!)}`,
    )
    .join('; ')
    .concat(writes.length > 3 ? ` and ${writes.length - 3} more` : '');
}

/** Expected failures of an operation are QuorumErrors; anything else is a bug and must fail the run. */
function rethrowBug(error: unknown): void {
  if (error instanceof QuorumError) return;
  throw error;
}

function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { p50Ms: 0, p99Ms: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (quantile: number) => sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))]!;
  return { p50Ms: round(at(0.5)), p99Ms: round(at(0.99)) };
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
