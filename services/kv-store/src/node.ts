import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServiceLogger } from '@sysdesign/platform';
import {
  AntiEntropy,
  type Gossip,
  HintedHandoff,
  type NodeId,
  QuorumNode,
  type Transport,
} from '@sysdesign/quorum';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from '@sysdesign/quorum/wire';
import { type ClusterSettings, type Config, MAX_KEY_BYTES } from './config.js';
import { ClusterRing, type NodeShare } from './domain/ring.js';
import { DeltaTracker, type KvMetrics, refreshEngineMetrics } from './metrics.js';
import { MAX_VALUE_BYTES_LIMIT, StorageEngine } from './storage/index.js';
import { advanceGeneration } from './store/generation.js';
import { EngineHintStore } from './store/hint-store.js';
import { EngineReplicaStore } from './store/replica-store.js';
import { HintingTransport } from './transport/coordinator-hints.js';
import { HttpTransport, type LinkFilter } from './transport/http-transport.js';
import { AntiEntropyWorker } from './workers/anti-entropy.js';
import { HandoffWorker } from './workers/handoff.js';
import { MembershipWorker } from './workers/membership.js';

/**
 * One node of the cluster, wired from its parts:
 *
 *   DATA_DIR/GENERATION  incarnation, raised on every start (vector-clock actors are url#incarnation)
 *   DATA_DIR/engine      the LSM engine holding each key's sibling set (EngineReplicaStore)
 *   DATA_DIR/hints       a second engine holding hints for replicas that were down (EngineHintStore)
 *
 * and @sysdesign/quorum's QuorumNode over them (replica, coordinator, gossip), with hinted handoff
 * and anti-entropy driven by this service's workers so their rounds reach the metrics and logs.
 * The ring is @sysdesign/consistent-hashing's, grown by the membership worker as gossip finds nodes.
 */

/** Hints engine: small memtable; deleted hints need no grace period (they are never repaired). */
const HINTS_MEMTABLE_BYTES = 1024 * 1024;
const HINTS_TOMBSTONE_GRACE_MS = 0;
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
  /** Tests cut links between in-process nodes with this. */
  links?: LinkFilter | undefined;
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

export class KvNode {
  readonly settings: ClusterSettings;
  readonly incarnation: number;
  readonly engine: StorageEngine;
  readonly hintEngine: StorageEngine;
  readonly hints: EngineHintStore;
  readonly ring: ClusterRing;
  readonly quorum: QuorumNode;
  readonly wireLimits: WireLimits;
  readonly handoff: HandoffWorker | undefined;
  readonly antiEntropy: AntiEntropyWorker | undefined;
  readonly membership: MembershipWorker;
  readonly #transport: HttpTransport;
  readonly #names: Map<NodeId, string>;
  readonly #metrics: KvMetrics;
  readonly #deltas = new DeltaTracker();
  readonly #config: Config;
  #closing: Promise<void> | undefined;

  private constructor(parts: {
    options: KvNodeOptions;
    incarnation: number;
    engine: StorageEngine;
    hintEngine: StorageEngine;
    hints: EngineHintStore;
  }) {
    const { options, incarnation, engine, hintEngine, hints } = parts;
    const { config, cluster, logger, metrics } = options;
    this.settings = cluster;
    this.incarnation = incarnation;
    this.engine = engine;
    this.hintEngine = hintEngine;
    this.hints = hints;
    this.#metrics = metrics;
    this.#config = config;
    this.#names = new Map([[cluster.url, cluster.nodeId]]);
    const { n, r, w } = cluster.replication;
    this.ring = new ClusterRing({ nodes: [cluster.url, ...cluster.seeds], n, vnodes: config.VNODES });
    this.wireLimits = {
      ...DEFAULT_WIRE_LIMITS,
      maxKeyBytes: MAX_KEY_BYTES,
      maxValueBytes: config.MAX_VALUE_BYTES,
      maxVersionsPerKey: MAX_VERSIONS_PER_KEY_ON_THE_WIRE,
    };
    this.#transport = new HttpTransport({
      self: cluster.url,
      nodeId: cluster.nodeId,
      clusterSecret: config.CLUSTER_SECRET,
      connectionsPerPeer: config.PEER_CONNECTIONS,
      wireLimits: this.wireLimits,
      links: options.links,
      onPeerName: (peer, name) => this.rememberName(peer, name),
    });
    const coordinatorTransport: Transport = config.HINTED_HANDOFF
      ? new HintingTransport(this.#transport, hints, Date.now, {
          // Counted by the hint store (kv_hints_dropped_total{reason="store_full"}) when it was full.
          onRefused: (replica, error) => {
            logger.warn({ replica, err: error }, 'could not keep a hint for a replica that missed a write');
          },
        })
      : this.#transport;
    const ring = this.ring;
    this.quorum = new QuorumNode({
      self: cluster.url,
      incarnation,
      transport: coordinatorTransport,
      store: new EngineReplicaStore(engine),
      hints,
      seeds: cluster.seeds,
      preferenceList: (key) => ring.preferenceList(key),
      ranges: { rangeOf: (key) => ring.rangeOf(key), rangesOf: (node) => ring.rangesOf(node) },
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
      replica: { maxSiblings: config.MAX_SIBLINGS, tombstoneGraceMs: Math.max(1, config.TOMBSTONE_GRACE_MS) },
      gossip: {
        intervalMs: config.GOSSIP_INTERVAL_MS,
        suspectAfterMs: config.GOSSIP_SUSPECT_AFTER_MS,
        removeAfterMs: config.GOSSIP_DEAD_AFTER_MS,
        timeoutMs: Math.max(config.GOSSIP_INTERVAL_MS, GOSSIP_MIN_TIMEOUT_MS),
      },
      handoff: false,
      antiEntropy: false,
    });
    this.membership = new MembershipWorker({
      gossip: this.gossip,
      ring,
      replica: this.quorum.replica,
      logger,
      metrics,
      intervalMs: config.GOSSIP_INTERVAL_MS,
    });
    this.handoff = config.HINTED_HANDOFF
      ? new HandoffWorker({
          handoff: new HintedHandoff({
            hints,
            transport: this.#transport,
            health: this.quorum.health,
            batchKeys: HANDOFF_BATCH_KEYS,
            timeoutMs: BACKGROUND_REQUEST_TIMEOUT_MS,
          }),
          logger,
          metrics,
          intervalMs: config.HANDOFF_INTERVAL_MS,
        })
      : undefined;
    this.antiEntropy =
      config.ANTI_ENTROPY_INTERVAL_MS > 0
        ? new AntiEntropyWorker({
            antiEntropy: new AntiEntropy({
              replica: this.quorum.replica,
              transport: this.#transport,
              localRanges: () => ring.rangesOf(cluster.url),
              health: this.quorum.health,
              intervalMs: config.ANTI_ENTROPY_INTERVAL_MS,
              maxKeysPerRound: config.ANTI_ENTROPY_MAX_KEYS_PER_ROUND,
              bytesPerSecond: config.ANTI_ENTROPY_BYTES_PER_SECOND,
              timeoutMs: BACKGROUND_REQUEST_TIMEOUT_MS,
            }),
            replica: this.quorum.replica,
            engine,
            logger,
            metrics,
            intervalMs: config.ANTI_ENTROPY_INTERVAL_MS,
          })
        : undefined;
  }

  /** Opens the node's storage (recovering what a crash left) and wires its parts; `start` runs them. */
  static async open(options: KvNodeOptions): Promise<KvNode> {
    const { config, logger } = options;
    await mkdir(config.DATA_DIR, { recursive: true });
    const incarnation = await advanceGeneration(config.DATA_DIR);
    const engine = await StorageEngine.open({
      dir: join(config.DATA_DIR, 'engine'),
      fsync: config.FSYNC,
      fsyncIntervalMs: config.FSYNC_INTERVAL_MS,
      memtableBytes: config.MEMTABLE_BYTES,
      // A record holds a key's whole sibling set, so it may be several values long.
      maxValueBytes: MAX_VALUE_BYTES_LIMIT,
      tombstoneGraceMs: config.TOMBSTONE_GRACE_MS,
      logger: logger.child({ engine: 'data' }),
    });
    let hintEngine: StorageEngine | undefined;
    try {
      hintEngine = await StorageEngine.open({
        dir: join(config.DATA_DIR, 'hints'),
        fsync: config.FSYNC,
        fsyncIntervalMs: config.FSYNC_INTERVAL_MS,
        memtableBytes: HINTS_MEMTABLE_BYTES,
        maxValueBytes: MAX_VALUE_BYTES_LIMIT,
        tombstoneGraceMs: HINTS_TOMBSTONE_GRACE_MS,
        logger: logger.child({ engine: 'hints' }),
      });
      const hints = await EngineHintStore.open(hintEngine, {
        maxEntries: config.HINTS_MAX_KEYS,
        maxBytes: config.HINTS_MAX_BYTES,
        maxAgeMs: config.HINTS_MAX_AGE_MS,
      });
      logger.info(
        { incarnation, recovery: engine.recovery, hints: hints.stats().entries },
        'storage recovered',
      );
      return new KvNode({ options, incarnation, engine, hintEngine, hints });
    } catch (error) {
      await hintEngine?.close().catch(() => {});
      await engine.close().catch(() => {});
      throw error;
    }
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
    this.antiEntropy?.start(this.#config.ANTI_ENTROPY_INTERVAL_MS);
  }

  /** Stops the workers (waiting for their rounds), gossip and the peer connections, then the storage. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([this.membership.stop(), this.handoff?.stop(), this.antiEntropy?.stop()]);
      this.quorum.stop();
      await this.#transport.close();
      await Promise.allSettled([this.hintEngine.close(), this.engine.close()]);
    })();
    return this.#closing;
  }

  rememberName(peer: NodeId, name: string): void {
    // Bounded like gossip's member table: a peer cannot grow it past the members it could add.
    if (this.#names.get(peer) === name || this.#names.size >= 4096) return;
    this.#names.set(peer, name);
  }

  /** Ring nodes the failure detector believes alive, this one included. */
  aliveReplicas(): number {
    let alive = 0;
    for (const node of this.ring.nodes()) if (node === this.url || this.quorum.health.isAlive(node)) alive++;
    return alive;
  }

  members(): MemberView[] {
    const now = Date.now();
    const shares = this.ring.shares();
    const seen = new Set<NodeId>();
    const views: MemberView[] = [];
    for (const member of this.gossip.members()) {
      seen.add(member.node);
      views.push({
        url: member.node,
        id: this.#names.get(member.node),
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
        id: this.#names.get(node),
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
    const metrics = this.#metrics;
    const coordinator = this.quorum.coordinator.stats();
    this.#deltas.add(metrics.readRepairs, { result: 'sent' }, coordinator.readRepairs, 'repairs:sent');
    this.#deltas.add(
      metrics.readRepairs,
      { result: 'skipped' },
      coordinator.readRepairsSkipped,
      'repairs:skipped',
    );
    this.#deltas.add(
      metrics.readRepairs,
      { result: 'failed' },
      coordinator.readRepairFailures,
      'repairs:failed',
    );
    const hints = this.hints.stats();
    this.#deltas.add(metrics.hintsStored, {}, hints.stored, 'hints:stored');
    this.#deltas.add(metrics.hintsDropped, { reason: 'store_full' }, hints.refused, 'hints:refused');
    metrics.hintsPending.set({ unit: 'keys' }, hints.entries);
    metrics.hintsPending.set({ unit: 'bytes' }, hints.bytes);
    metrics.ringNodes.set(this.ring.size);
    refreshEngineMetrics(metrics, this.#deltas, 'data', this.engine.stats());
    refreshEngineMetrics(metrics, this.#deltas, 'hints', this.hintEngine.stats());
  }
}
