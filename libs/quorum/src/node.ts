import { AntiEntropy, type AntiEntropyOptions, type RangeReplicas } from './anti-entropy.js';
import { type Clock, systemClock } from './clock.js';
import {
  Coordinator,
  type CoordinatorOptions,
  type ReadResult,
  type RequestSettings,
  type WriteResult,
} from './coordinator.js';
import { Gossip, type GossipOptions } from './gossip.js';
import { HintedHandoff, type HintedHandoffOptions } from './handoff.js';
import { type HintStore, MemoryHintStore } from './hints.js';
import { Random } from './random.js';
import { Replica, type ReplicaOptions, SINGLE_RANGE } from './replica.js';
import type { ReplicaStore } from './store.js';
import {
  allAlive,
  type HealthView,
  type NodeId,
  type PeerRequest,
  type PeerResponse,
  type Transport,
} from './transport.js';
import type { VectorClock } from './vector-clock.js';

/**
 * One node of a Dynamo-style cluster, wired from the parts: a `Replica` over the node's store, a
 * `Coordinator` for client requests, `Gossip` for membership and the health view, `HintedHandoff`
 * and `AntiEntropy` in the background. A service gives it a transport and a store, routes peer
 * requests to `handle`, and client requests to `get`/`put`/`delete`.
 */

export interface KeyRanges {
  /** The range (Merkle tree) of a key. Every node must map keys the same way. */
  rangeOf(key: string): string;
  /** The ranges `node` replicates, each with all its replicas. */
  rangesOf(node: NodeId): readonly RangeReplicas[];
}

export interface QuorumNodeOptions {
  self: NodeId;
  /** Higher on every restart (persisted generation or start time in ms); see `ReplicaOptions`. */
  incarnation: number;
  transport: Transport;
  store: ReplicaStore;
  /** Default: a `MemoryHintStore` (hints are lost on a crash; anti-entropy repairs what they held). */
  hints?: HintStore;
  preferenceList: (key: string) => readonly NodeId[];
  /** Default: one range holding every key, replicated by every node of `seeds` plus this one. */
  ranges?: KeyRanges;
  seeds?: readonly NodeId[];
  clock?: Clock;
  random?: Random;
  /** Options of each part; `false` turns a background part off. */
  coordinator?: Partial<
    Pick<
      CoordinatorOptions,
      | 'n'
      | 'r'
      | 'w'
      | 'timeoutMs'
      | 'sloppy'
      | 'readRepair'
      | 'maxConcurrentReadRepairs'
      | 'maxKeyBytes'
      | 'maxValueBytes'
    >
  >;
  replica?: Partial<Omit<ReplicaOptions, 'self' | 'incarnation' | 'store' | 'hints' | 'clock' | 'rangeOf'>>;
  gossip?:
    | Partial<Omit<GossipOptions, 'self' | 'incarnation' | 'transport' | 'seeds' | 'clock' | 'random'>>
    | false;
  handoff?: Partial<Omit<HintedHandoffOptions, 'hints' | 'transport' | 'health' | 'clock'>> | false;
  antiEntropy?:
    | Partial<
        Omit<AntiEntropyOptions, 'replica' | 'transport' | 'localRanges' | 'health' | 'clock' | 'random'>
      >
    | false;
  /** The health view when gossip is off (default: everyone alive). */
  health?: HealthView;
}

export class QuorumNode {
  readonly self: NodeId;
  readonly replica: Replica;
  readonly coordinator: Coordinator;
  readonly hints: HintStore;
  readonly gossip: Gossip | undefined;
  readonly handoff: HintedHandoff | undefined;
  readonly antiEntropy: AntiEntropy | undefined;
  readonly health: HealthView;
  private started = false;

  constructor(options: QuorumNodeOptions) {
    const clock = options.clock ?? systemClock;
    const random = options.random ?? new Random(Date.now() % 2 ** 31);
    const seeds = options.seeds ?? [];
    this.self = options.self;
    this.hints = options.hints ?? new MemoryHintStore();
    const ranges = options.ranges ?? singleRange([options.self, ...seeds]);
    this.replica = new Replica({
      ...options.replica,
      self: options.self,
      incarnation: options.incarnation,
      store: options.store,
      hints: this.hints,
      clock,
      rangeOf: (key) => ranges.rangeOf(key),
    });
    this.gossip =
      options.gossip === false
        ? undefined
        : new Gossip({
            ...options.gossip,
            self: options.self,
            incarnation: options.incarnation,
            transport: options.transport,
            seeds,
            clock,
            random: random.fork(),
          });
    this.health = this.gossip ?? options.health ?? allAlive;
    this.coordinator = new Coordinator({
      ...options.coordinator,
      self: options.self,
      transport: options.transport,
      preferenceList: options.preferenceList,
      local: (request) => this.replica.handle(request),
      health: this.health,
      clock,
    });
    this.handoff =
      options.handoff === false
        ? undefined
        : new HintedHandoff({
            ...options.handoff,
            hints: this.hints,
            transport: options.transport,
            health: this.health,
            clock,
          });
    this.antiEntropy =
      options.antiEntropy === false
        ? undefined
        : new AntiEntropy({
            ...options.antiEntropy,
            replica: this.replica,
            transport: options.transport,
            localRanges: () => ranges.rangesOf(options.self),
            health: this.health,
            clock,
            random: random.fork(),
          });
  }

  /** Builds the Merkle trees from the store, then starts gossip, handoff and anti-entropy. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.replica.rebuildMerkle();
    this.gossip?.start();
    this.handoff?.start();
    this.antiEntropy?.start();
  }

  /** Stops the loops at once; resolves when their rounds in flight have finished. */
  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([this.gossip?.stop(), this.handoff?.stop(), this.antiEntropy?.stop()]);
  }

  /** Serves one request from a peer: what the service's peer endpoint calls. */
  async handle(request: PeerRequest, _from?: NodeId): Promise<PeerResponse> {
    if (request.type === 'gossip') {
      if (this.gossip === undefined) return this.replica.handle(request);
      return this.gossip.handle(request);
    }
    return this.replica.handle(request);
  }

  get(key: string, settings?: RequestSettings): Promise<ReadResult> {
    return this.coordinator.get(key, settings);
  }

  put(
    key: string,
    value: Uint8Array,
    context?: VectorClock,
    settings?: RequestSettings,
  ): Promise<WriteResult> {
    return this.coordinator.put(key, value, context, settings);
  }

  delete(key: string, context?: VectorClock, settings?: RequestSettings): Promise<WriteResult> {
    return this.coordinator.delete(key, context, settings);
  }
}

/** Every key in one range that every listed node replicates: fine while N equals the cluster size. */
export function singleRange(nodes: readonly NodeId[]): KeyRanges {
  const replicas = [...new Set(nodes)];
  return {
    rangeOf: () => SINGLE_RANGE,
    rangesOf: () => [{ range: SINGLE_RANGE, replicas }],
  };
}
