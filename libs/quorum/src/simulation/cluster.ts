import { ClockScope } from '../clock.js';
import { hash32 } from '../hash.js';
import { MemoryHintStore } from '../hints.js';
import { MemoryNetwork } from '../memory-network.js';
import { type KeyRanges, QuorumNode } from '../node.js';
import type { Random } from '../random.js';
import { MemoryReplicaStore } from '../store.js';
import type { NodeId } from '../transport.js';
import { digestVersions, reconcile, type Version } from '../version.js';
import type { VirtualClock } from '../virtual-clock.js';

/**
 * A cluster of `QuorumNode`s on a `MemoryNetwork` and a `VirtualClock`, with the crash model the
 * simulation needs: a crash stops the node's process (timers, in-flight requests, membership
 * table, coordinator state) and keeps its disk (the replica store and the hint store, as the
 * kv-store keeps both on disk); a restart comes back with a higher incarnation.
 *
 * Placement is Dynamo's "Q equal partitions" scheme: keys hash into `partitions` ranges, and
 * range p is replicated by the N nodes starting at position p mod size of the ring, the rest of
 * the ring walk being its fallbacks. Each range has its own Merkle tree.
 */

export interface SimulationTiming {
  latency: { minMs: number; maxMs: number };
  /** Deadline of one client operation (the coordinator's timeoutMs). */
  requestTimeoutMs: number;
  gossipIntervalMs: number;
  suspectAfterMs: number;
  removeAfterMs: number;
  antiEntropyIntervalMs: number;
  handoffIntervalMs: number;
}

export const DEFAULT_SIMULATION_TIMING: SimulationTiming = Object.freeze({
  latency: Object.freeze({ minMs: 1, maxMs: 10 }),
  requestTimeoutMs: 200,
  gossipIntervalMs: 100,
  suspectAfterMs: 300,
  removeAfterMs: 1000,
  antiEntropyIntervalMs: 100,
  handoffIntervalMs: 100,
});

export interface SimulatedClusterOptions {
  clock: VirtualClock;
  random: Random;
  nodes: number;
  n: number;
  r: number;
  w: number;
  sloppy: boolean;
  antiEntropy: boolean;
  hintedHandoff: boolean;
  readRepair: boolean;
  timing: SimulationTiming;
  /** Key ranges (Merkle trees) on the ring. */
  partitions?: number;
  /** Send every message through the JSON wire codec (slower; see `MemoryNetworkOptions`). */
  serialize?: boolean;
}

export interface ConvergenceState {
  converged: boolean;
  /** Keys whose replicas do not all hold the same sibling set. */
  divergentKeys: number;
  /** Hint entries still waiting for handoff (informational). */
  pendingHints: number;
}

export class SimulatedCluster {
  readonly nodeIds: NodeId[];
  readonly network: MemoryNetwork;
  readonly ranges: KeyRanges;
  private readonly options: SimulatedClusterOptions;
  private readonly partitions: number;
  private readonly stores = new Map<NodeId, MemoryReplicaStore>();
  private readonly hintStores = new Map<NodeId, MemoryHintStore>();
  private readonly nodes = new Map<NodeId, { node: QuorumNode; scope: ClockScope }>();
  private readonly incarnations = new Map<NodeId, number>();
  private readonly down = new Set<NodeId>();

  constructor(options: SimulatedClusterOptions) {
    this.options = options;
    this.partitions = options.partitions ?? 16;
    this.nodeIds = Array.from({ length: options.nodes }, (_, index) => `node-${index + 1}`);
    this.network = new MemoryNetwork({
      clock: options.clock,
      random: options.random.fork(),
      latency: options.timing.latency,
      serialize: options.serialize ?? false,
    });
    this.ranges = {
      rangeOf: (key) => `p${this.partitionOf(key)}`,
      rangesOf: (node) => {
        const ranges = [];
        for (let partition = 0; partition < this.partitions; partition++) {
          const replicas = this.ring(partition).slice(0, this.options.n);
          if (replicas.includes(node)) ranges.push({ range: `p${partition}`, replicas });
        }
        return ranges;
      },
    };
    for (const id of this.nodeIds) {
      this.stores.set(id, new MemoryReplicaStore());
      this.hintStores.set(id, new MemoryHintStore());
      this.incarnations.set(id, 1);
      this.network.register(id, (request, from) => {
        const running = this.nodes.get(id);
        if (running === undefined) return Promise.reject(new Error(`${id} is not running`));
        return running.node.handle(request, from);
      });
    }
  }

  /** The ring walk for a key: its N replicas first, then every other node as a fallback. */
  preferenceList(key: string): NodeId[] {
    return this.ring(this.partitionOf(key));
  }

  async start(): Promise<void> {
    for (const id of this.nodeIds) await this.boot(id);
  }

  /** The running node (its coordinator and parts); throws for a crashed one. */
  node(id: NodeId): QuorumNode {
    const running = this.nodes.get(id);
    if (running === undefined) throw new Error(`${id} is down`);
    return running.node;
  }

  isUp(id: NodeId): boolean {
    return !this.down.has(id);
  }

  upNodes(): NodeId[] {
    return this.nodeIds.filter((id) => !this.down.has(id));
  }

  downNodes(): NodeId[] {
    return this.nodeIds.filter((id) => this.down.has(id));
  }

  crash(id: NodeId): void {
    const running = this.nodes.get(id);
    if (running === undefined) return;
    running.node.stop();
    running.scope.dispose();
    this.nodes.delete(id);
    this.down.add(id);
    this.network.crash(id);
  }

  async restart(id: NodeId): Promise<void> {
    if (!this.down.has(id)) return;
    this.down.delete(id);
    this.incarnations.set(id, (this.incarnations.get(id) ?? 0) + 1);
    this.network.restart(id);
    await this.boot(id);
  }

  stopAll(): void {
    for (const { node, scope } of this.nodes.values()) {
      node.stop();
      scope.dispose();
    }
  }

  store(id: NodeId): MemoryReplicaStore {
    return this.stores.get(id)!;
  }

  hints(id: NodeId): MemoryHintStore {
    return this.hintStores.get(id)!;
  }

  /** Every version of `key` anywhere in the cluster (stores and hints), reconciled: the oracle's view. */
  everything(key: string): Version[] {
    const sets: Version[][] = [];
    for (const id of this.nodeIds) {
      sets.push([...this.store(id).peek(key)]);
      for (const entry of this.hints(id).peek()) if (entry.key === key) sets.push(entry.versions);
    }
    return reconcile(...sets);
  }

  /** Do the N replicas of every key hold every version that exists anywhere (stores and hints)? */
  convergence(): ConvergenceState {
    const keys = new Set<string>();
    let pendingHints = 0;
    for (const id of this.nodeIds) {
      for (const key of this.store(id).keys()) keys.add(key);
      for (const entry of this.hints(id).peek()) {
        keys.add(entry.key);
        pendingHints++;
      }
    }
    let divergentKeys = 0;
    for (const key of keys) {
      const expected = digestVersions(this.everything(key));
      const replicas = this.preferenceList(key).slice(0, this.options.n);
      if (replicas.some((id) => digestVersions(this.store(id).peek(key)) !== expected)) divergentKeys++;
    }
    // Hints do not count against convergence: a hint holding anything the replicas lack makes
    // those replicas differ from `everything`, and one holding nothing new is merely redundant.
    return { converged: divergentKeys === 0, divergentKeys, pendingHints };
  }

  private async boot(id: NodeId): Promise<void> {
    const { clock, random, timing } = this.options;
    const scope = new ClockScope(clock);
    const node = new QuorumNode({
      self: id,
      incarnation: this.incarnations.get(id)!,
      transport: this.network.transport(id),
      store: this.store(id),
      hints: this.hints(id),
      preferenceList: (key) => this.preferenceList(key),
      ranges: this.ranges,
      seeds: this.nodeIds,
      clock: scope,
      random: random.fork(),
      coordinator: {
        n: this.options.n,
        r: this.options.r,
        w: this.options.w,
        sloppy: this.options.sloppy,
        readRepair: this.options.readRepair,
        timeoutMs: timing.requestTimeoutMs,
      },
      replica: { merkleDepth: 6 },
      gossip: {
        intervalMs: timing.gossipIntervalMs,
        suspectAfterMs: timing.suspectAfterMs,
        removeAfterMs: timing.removeAfterMs,
        fanout: 2,
      },
      handoff: this.options.hintedHandoff
        ? { intervalMs: timing.handoffIntervalMs, timeoutMs: timing.requestTimeoutMs }
        : false,
      antiEntropy: this.options.antiEntropy
        ? { intervalMs: timing.antiEntropyIntervalMs, timeoutMs: timing.requestTimeoutMs, levelsPerStep: 3 }
        : false,
    });
    this.nodes.set(id, { node, scope });
    await node.start();
  }

  private partitionOf(key: string): number {
    return hash32(key) % this.partitions;
  }

  private ring(partition: number): NodeId[] {
    const start = partition % this.nodeIds.length;
    return [...this.nodeIds.slice(start), ...this.nodeIds.slice(0, start)];
  }
}
