import type { ServiceLogger } from '@sysdesign/platform';
import {
  digestVersions,
  type Gossip,
  type HintStore,
  Loop,
  type MemberState,
  type NodeId,
  type Replica,
} from '@sysdesign/quorum';
import { ClusterRing, type ClusterRingOptions } from '../domain/ring.js';
import type { KvMetrics } from '../metrics.js';

/** Hints dropped per round for members that left: the rest go next round. */
const DROPPED_HINTS_PER_ROUND = 1_000;

/**
 * The ring as membership last changed it. A `ClusterRing` only grows, so a departure builds a new
 * one without the node; readers take `current` each time rather than keeping a ring.
 */
export class LiveRing {
  private ring: ClusterRing;
  private readonly options: ClusterRingOptions;

  constructor(options: ClusterRingOptions) {
    this.options = options;
    this.ring = new ClusterRing(options);
  }

  get current(): ClusterRing {
    return this.ring;
  }

  add(node: NodeId): boolean {
    return this.ring.add(node);
  }

  remove(node: NodeId): boolean {
    if (!this.ring.has(node)) return false;
    const nodes = this.ring.nodes().filter((other) => other !== node);
    this.ring = new ClusterRing({ ...this.options, nodes });
    return true;
  }
}

/**
 * Keeps the ring in step with gossip. A node joins the ring once gossip has made it a member (this
 * node reached it over the authenticated peer API, which gossip requires before it believes in a
 * node) and it has gossiped itself (an incarnation above 0: seeds are assumed alive with
 * incarnation 0 until they speak, and a seed written under another spelling than the node
 * advertises must not become a phantom replica). A node leaves the ring when gossip forgets it,
 * after DEAD_MEMBER_REMOVAL_MS of silence: an outage shorter than that keeps its place (its keys go
 * to fallbacks with hints meanwhile); after it, the hints kept for it are dropped too. When the ring
 * changes, the Merkle trees are rebuilt for the new replica groups, and anti-entropy then streams
 * each node its ranges.
 */
export class MembershipWorker {
  private readonly self: NodeId;
  private readonly gossip: Gossip;
  private readonly ring: LiveRing;
  private readonly replica: Replica;
  private readonly hints: HintStore;
  private readonly logger: ServiceLogger;
  private readonly metrics: KvMetrics;
  private readonly loop: Loop;
  private rebuild: Promise<void> = Promise.resolve();

  constructor(options: {
    self: NodeId;
    gossip: Gossip;
    ring: LiveRing;
    replica: Replica;
    hints: HintStore;
    logger: ServiceLogger;
    metrics: KvMetrics;
    intervalMs: number;
  }) {
    this.self = options.self;
    this.gossip = options.gossip;
    this.ring = options.ring;
    this.replica = options.replica;
    this.hints = options.hints;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.loop = new Loop({
      intervalMs: options.intervalMs,
      task: () => this.reconcile(),
      onError: (error) => this.logger.warn({ err: error }, 'membership round failed'),
    });
    this.gossip.onChange((node, from, to) => this.onChange(node, from, to));
  }

  start(): void {
    this.loop.start(0);
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.rebuild;
  }

  /** Adds new members to the ring and removes forgotten ones; resolves once the trees are rebuilt if it changed. */
  async reconcile(): Promise<void> {
    const members = this.gossip.members();
    const joined: NodeId[] = [];
    for (const member of members) {
      if (member.incarnation > 0 && member.state === 'alive' && this.ring.add(member.node)) {
        joined.push(member.node);
      }
    }
    const known = new Set(members.map((member) => member.node));
    const left = this.ring.current.nodes().filter((node) => node !== this.self && !known.has(node));
    for (const node of left) this.ring.remove(node);
    this.metrics.ringNodes.set(this.ring.current.size);
    this.refreshGauges();
    await this.dropHintsOfStrangers(known);
    if (joined.length === 0 && left.length === 0) return;
    if (left.length > 0) this.metrics.membershipChanges.inc({ to: 'removed' }, left.length);
    this.logger.info(
      { joined, left, ringNodes: this.ring.current.size },
      'the ring changed: rebuilding Merkle trees',
    );
    this.rebuild = this.rebuild.then(async () => {
      await this.replica.rebuildMerkle();
      this.metrics.merkleRebuilds.inc({ reason: 'ring_changed' });
    });
    await this.rebuild;
  }

  /** Hints owed to a node that is neither a member nor on the ring can never be delivered. */
  private async dropHintsOfStrangers(members: ReadonlySet<NodeId>): Promise<void> {
    let budget = DROPPED_HINTS_PER_ROUND;
    for (const owner of await this.hints.owners()) {
      if (budget <= 0) return;
      if (members.has(owner) || this.ring.current.has(owner)) continue;
      const entries = await this.hints.pending(owner, budget);
      for (const entry of entries)
        await this.hints.delivered(owner, entry.key, digestVersions(entry.versions));
      budget -= entries.length;
      this.metrics.hintsDropped.inc({ reason: 'member_removed' }, entries.length);
    }
  }

  private onChange(node: string, from: MemberState | undefined, to: MemberState): void {
    this.metrics.membershipChanges.inc({ to });
    this.refreshGauges();
    const level = to === 'alive' ? 'info' : 'warn';
    this.logger[level]({ node, from: from ?? 'unknown', to }, `member ${node} is ${to}`);
  }

  private refreshGauges(): void {
    const counts: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0 };
    for (const member of this.gossip.members()) counts[member.state]++;
    for (const [state, count] of Object.entries(counts)) this.metrics.gossipMembers.set({ state }, count);
  }
}
