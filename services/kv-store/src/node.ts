import type { Clock as PlatformClock, ServiceLogger } from '@sysdesign/platform';
import {
  AntiEntropy,
  type Clock,
  type Gossip,
  HintedHandoff,
  type NodeId,
  QuorumNode,
  systemClock,
  type Transport,
} from '@sysdesign/quorum';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from '@sysdesign/quorum/wire';
import { type ClusterSettings, type Config, hostOf, MAX_KEY_BYTES } from './config.js';
import type { ClusterRing, NodeShare } from './domain/ring.js';
import { DeltaTracker, type KvMetrics, refreshEngineMetrics } from './metrics.js';
import type { NodeStorage } from './node-storage.js';
import type { StorageEngine } from './storage/index.js';
import type { EngineHintStore } from './store/hint-store.js';
import { EngineReplicaStore } from './store/replica-store.js';
import { HintingTransport } from './transport/coordinator-hints.js';
import { HttpTransport, type LinkFilter } from './transport/http-transport.js';
import type { PeerCredentials } from './transport/peer-credentials.js';
import { AntiEntropyWorker } from './workers/anti-entropy.js';
import { HandoffWorker } from './workers/handoff.js';
import { LiveRing, MembershipWorker } from './workers/membership.js';

/**
 * One node of the cluster, wired from its parts:
 *
 *   DATA_DIR/GENERATION  incarnation, raised on every start (vector-clock actors are url#incarnation)
 *   DATA_DIR/engine      the LSM engine holding each key's sibling set (EngineReplicaStore)
 *   DATA_DIR/hints       a second engine holding hints for replicas that were down (EngineHintStore)
 *
 * and @sysdesign/quorum's QuorumNode over them (replica, coordinator, gossip), with hinted handoff
 * and anti-entropy driven by this service's workers so their rounds reach the metrics and logs.
 * The ring is @sysdesign/consistent-hashing's, changed by the membership worker as gossip admits
 * nodes (only those this node has reached with the cluster secret, on allowed hosts) and forgets them.
 */

/** Keys per hand-off request: a batch of 1 MiB values stays well under the peer body limit. */
const HANDOFF_BATCH_KEYS = 16;
/** Anti-entropy and hand-off requests may take longer than client requests: they move batches. */
const BACKGROUND_REQUEST_TIMEOUT_MS = 10_000;
/** A gossip exchange may take this long even when rounds are shorter (a busy peer is not a dead one). */
const GOSSIP_MIN_TIMEOUT_MS = 250;
/** Sibling sets can outgrow MAX_SIBLINGS through merges (replication never refuses): leave room. */
const MAX_VERSIONS_PER_KEY_ON_THE_WIRE = 256;

export interface KvNodeOptions {
  config: Config;
  cluster: ClusterSettings;
  logger: ServiceLogger;
  metrics: KvMetrics;
  /** The cluster secret and TLS material; absent: no peer API, a cluster of one. */
  credentials?: PeerCredentials | undefined;
  /** Tests cut links between in-process nodes with this. */
  links?: LinkFilter | undefined;
  /** Wall time: the platform's clock, which fault tests skew. */
  clock: PlatformClock;
}

export interface MemberView {
  url: NodeId;
  /** The node's NODE_ID, once it has talked to this node. */
  id: string | undefined;
  state: 'alive' | 'suspect' | 'dead' | 'unknown';
  incarnation: number;
  heartbeat: number;
  lastHeardMsAgo: number | undefined;
  onRing: boolean;
  share: NodeShare | undefined;
}

interface NodeParts extends NodeStorage {
  options: KvNodeOptions;
  /** The platform clock in the library's shape: its readings, and real timers. */
  clock: Clock;
}

/**
 * The library reads timestamps (dots, hints, tombstone grace) and measures timeouts with one
 * clock: readings come from the platform's, so a skewed node stamps skewed times; timers stay
 * the system's, since a skew moves the wall clock, not how long a second lasts.
 */
function quorumClockOf(clock: PlatformClock): Clock {
  return { now: () => clock.nowMs(), setTimer: systemClock.setTimer };
}

function wireLimitsOf(config: Config): WireLimits {
  return {
    ...DEFAULT_WIRE_LIMITS,
    maxKeyBytes: MAX_KEY_BYTES,
    maxValueBytes: config.MAX_VALUE_BYTES,
    maxVersionsPerKey: MAX_VERSIONS_PER_KEY_ON_THE_WIRE,
    maxMembers: config.MAX_CLUSTER_MEMBERS,
  };
}

/** Which addresses may become members: peer API URLs with this node's scheme, on an allowed host. */
function admissionOf(cluster: ClusterSettings): (node: NodeId) => boolean {
  const protocol = new URL(cluster.url).protocol;
  return (node) => {
    try {
      const url = new URL(node);
      return url.origin === node && url.protocol === protocol && cluster.peer.allowedHosts.has(hostOf(node));
    } catch {
      return false;
    }
  };
}

/** With hinted handoff, a coordinator keeps a hint for each replica a write could not reach. */
function coordinatorTransportOf(transport: HttpTransport, parts: NodeParts): Transport {
  const { config, logger } = parts.options;
  if (!config.HINTED_HANDOFF) return transport;
  return new HintingTransport(transport, parts.hints, () => parts.clock.now(), {
    // Counted by the hint store (kv_hints_dropped_total{reason="store_full"}) when it was full.
    onRefused: (replica, error) => {
      logger.warn({ replica, err: error }, 'could not keep a hint for a replica that missed a write');
    },
  });
}

/** The library's node: replica, coordinator and gossip; hand-off and anti-entropy run as this service's workers. */
function createQuorumNode(parts: NodeParts, transport: Transport, ring: LiveRing): QuorumNode {
  const { config, cluster } = parts.options;
  const { n, r, w } = cluster.replication;
  return new QuorumNode({
    self: cluster.url,
    incarnation: parts.incarnation,
    clock: parts.clock,
    transport,
    store: new EngineReplicaStore(parts.engine),
    hints: parts.hints,
    seeds: cluster.seeds,
    preferenceList: (key) => ring.current.preferenceList(key),
    ranges: {
      rangeOf: (key) => ring.current.rangeOf(key),
      rangesOf: (node) => ring.current.rangesOf(node),
    },
    coordinator: {
      n,
      r,
      w,
      timeoutMs: config.REQUEST_TIMEOUT_MS,
      sloppy: config.SLOPPY_QUORUM,
      readRepair: config.READ_REPAIR,
      maxKeyBytes: MAX_KEY_BYTES,
      maxValueBytes: config.MAX_VALUE_BYTES,
    },
    replica: {
      maxSiblings: config.MAX_SIBLINGS,
      maxSiblingsBytes: config.MAX_SIBLINGS_BYTES,
      tombstoneGraceMs: Math.max(1, config.TOMBSTONE_GRACE_MS),
    },
    gossip: {
      intervalMs: config.GOSSIP_INTERVAL_MS,
      suspectAfterMs: config.GOSSIP_SUSPECT_AFTER_MS,
      removeAfterMs: config.GOSSIP_DEAD_AFTER_MS,
      forgetAfterMs: config.DEAD_MEMBER_REMOVAL_MS,
      timeoutMs: Math.max(config.GOSSIP_INTERVAL_MS, GOSSIP_MIN_TIMEOUT_MS),
      admit: admissionOf(cluster),
      maxMembers: config.MAX_CLUSTER_MEMBERS,
    },
    handoff: false,
    antiEntropy: false,
  });
}

function createHandoffWorker(
  parts: NodeParts,
  transport: HttpTransport,
  quorum: QuorumNode,
): HandoffWorker | undefined {
  const { config, logger, metrics } = parts.options;
  if (!config.HINTED_HANDOFF) return undefined;
  return new HandoffWorker({
    handoff: new HintedHandoff({
      hints: parts.hints,
      transport,
      health: quorum.health,
      clock: parts.clock,
      batchKeys: HANDOFF_BATCH_KEYS,
      timeoutMs: BACKGROUND_REQUEST_TIMEOUT_MS,
    }),
    logger,
    metrics,
    intervalMs: config.HANDOFF_INTERVAL_MS,
  });
}

function createAntiEntropyWorker(
  parts: NodeParts,
  transport: HttpTransport,
  quorum: QuorumNode,
  ring: LiveRing,
): AntiEntropyWorker | undefined {
  const { config, cluster, logger, metrics } = parts.options;
  if (config.ANTI_ENTROPY_INTERVAL_MS <= 0) return undefined;
  return new AntiEntropyWorker({
    antiEntropy: new AntiEntropy({
      replica: quorum.replica,
      transport,
      localRanges: () => ring.current.rangesOf(cluster.url),
      health: quorum.health,
      clock: parts.clock,
      intervalMs: config.ANTI_ENTROPY_INTERVAL_MS,
      maxKeysPerRound: config.ANTI_ENTROPY_MAX_KEYS_PER_ROUND,
      bytesPerSecond: config.ANTI_ENTROPY_BYTES_PER_SECOND,
      timeoutMs: BACKGROUND_REQUEST_TIMEOUT_MS,
    }),
    replica: quorum.replica,
    engine: parts.engine,
    logger,
    metrics,
    intervalMs: config.ANTI_ENTROPY_INTERVAL_MS,
  });
}

export class KvNode {
  readonly settings: ClusterSettings;
  readonly incarnation: number;
  readonly engine: StorageEngine;
  readonly hintEngine: StorageEngine;
  readonly hints: EngineHintStore;
  readonly liveRing: LiveRing;
  readonly quorum: QuorumNode;
  readonly peerCredentials: PeerCredentials | undefined;
  readonly wireLimits: WireLimits;
  readonly handoff: HandoffWorker | undefined;
  readonly antiEntropy: AntiEntropyWorker | undefined;
  readonly membership: MembershipWorker;
  private readonly transport: HttpTransport;
  private readonly names: Map<NodeId, string>;
  private readonly metrics: KvMetrics;
  private readonly deltas = new DeltaTracker();
  private readonly config: Config;
  private readonly clock: Clock;
  private stopping: Promise<void> | undefined;

  /** Wires the node's parts over its opened storage (see node-storage.ts); `start` runs them. */
  constructor(options: KvNodeOptions, storage: NodeStorage) {
    const parts: NodeParts = { options, ...storage, clock: quorumClockOf(options.clock) };
    const { config, cluster, logger, metrics } = options;
    this.settings = cluster;
    this.incarnation = parts.incarnation;
    this.engine = parts.engine;
    this.hintEngine = parts.hintEngine;
    this.hints = parts.hints;
    this.metrics = metrics;
    this.config = config;
    this.clock = parts.clock;
    this.names = new Map([[cluster.url, cluster.nodeId]]);
    this.peerCredentials = options.credentials;
    this.liveRing = new LiveRing({
      nodes: [cluster.url, ...cluster.seeds],
      n: cluster.replication.n,
      vnodes: config.VNODES,
    });
    this.wireLimits = wireLimitsOf(config);
    this.transport = new HttpTransport({
      self: cluster.url,
      nodeId: cluster.nodeId,
      secret: options.credentials?.secret,
      ca: options.credentials?.ca,
      connectionsPerPeer: config.PEER_CONNECTIONS,
      wireLimits: this.wireLimits,
      links: parts.options.links,
      dialMap: cluster.peer.dialMap,
      onPeerName: (peer, name) => this.rememberName(peer, name),
    });
    this.quorum = createQuorumNode(parts, coordinatorTransportOf(this.transport, parts), this.liveRing);
    this.membership = new MembershipWorker({
      self: cluster.url,
      gossip: this.gossip,
      ring: this.liveRing,
      replica: this.quorum.replica,
      hints: this.hints,
      logger,
      metrics,
      intervalMs: config.GOSSIP_INTERVAL_MS,
    });
    this.handoff = createHandoffWorker(parts, this.transport, this.quorum);
    this.antiEntropy = createAntiEntropyWorker(parts, this.transport, this.quorum, this.liveRing);
  }

  /** The ring as it is now (membership replaces it when a node leaves). */
  get ring(): ClusterRing {
    return this.liveRing.current;
  }

  get url(): NodeId {
    return this.settings.url;
  }

  get gossip(): Gossip {
    // QuorumNode always builds gossip here (the option is never false).
    return this.quorum.gossip!;
  }

  /** Builds the Merkle trees from the store, then starts gossip and the background workers. */
  async start(): Promise<void> {
    await this.quorum.start();
    this.membership.start();
    this.handoff?.start();
    this.antiEntropy?.start(this.config.ANTI_ENTROPY_INTERVAL_MS);
  }

  /**
   * Stops the workers (waiting for their rounds), gossip and the peer connections. The storage
   * stays open: its owner closes it after this (the service's lifecycle does).
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all([this.membership.stop(), this.handoff?.stop(), this.antiEntropy?.stop()]);
      await this.quorum.stop();
      await this.transport.close();
    })();
    return this.stopping;
  }

  rememberName(peer: NodeId, name: string): void {
    // Bounded like gossip's member table: a peer cannot grow it past the members it could add.
    if (this.names.get(peer) === name || this.names.size >= this.config.MAX_CLUSTER_MEMBERS) return;
    this.names.set(peer, name);
  }

  /** Ring nodes the failure detector believes alive, this one included. */
  aliveReplicas(): number {
    let alive = 0;
    for (const node of this.ring.nodes()) if (node === this.url || this.quorum.health.isAlive(node)) alive++;
    return alive;
  }

  members(): MemberView[] {
    // Gossip stamps lastHeardMs with the same clock.
    const now = this.clock.now();
    const shares = this.ring.shares();
    const seen = new Set<NodeId>();
    const views: MemberView[] = [];
    for (const member of this.gossip.members()) {
      seen.add(member.node);
      views.push({
        url: member.node,
        id: this.names.get(member.node),
        state: member.state,
        incarnation: member.incarnation,
        heartbeat: member.heartbeat,
        lastHeardMsAgo: member.node === this.url ? 0 : Math.max(0, now - member.lastHeardMs),
        onRing: this.ring.has(member.node),
        share: shares.get(member.node),
      });
    }
    for (const node of this.ring.nodes()) {
      if (seen.has(node)) continue;
      views.push({
        url: node,
        id: this.names.get(node),
        state: 'unknown',
        incarnation: 0,
        heartbeat: 0,
        lastHeardMsAgo: undefined,
        onRing: true,
        share: shares.get(node),
      });
    }
    return views.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
  }

  /** Copies the library's and engines' running totals into the metrics (called on each scrape). */
  refreshMetrics(): void {
    const metrics = this.metrics;
    const coordinator = this.quorum.coordinator.stats();
    this.deltas.add(metrics.readRepairs, { result: 'sent' }, coordinator.readRepairs, 'repairs:sent');
    this.deltas.add(
      metrics.readRepairs,
      { result: 'skipped' },
      coordinator.readRepairsSkipped,
      'repairs:skipped',
    );
    this.deltas.add(
      metrics.readRepairs,
      { result: 'failed' },
      coordinator.readRepairFailures,
      'repairs:failed',
    );
    const hints = this.hints.stats();
    this.deltas.add(metrics.hintsStored, {}, hints.stored, 'hints:stored');
    this.deltas.add(metrics.hintsDropped, { reason: 'store_full' }, hints.refused, 'hints:refused');
    metrics.hintsPending.set({ unit: 'keys' }, hints.entries);
    metrics.hintsPending.set({ unit: 'bytes' }, hints.bytes);
    metrics.ringNodes.set(this.ring.size);
    refreshEngineMetrics(metrics, this.deltas, 'data', this.engine.stats());
    refreshEngineMetrics(metrics, this.deltas, 'hints', this.hintEngine.stats());
  }
}
