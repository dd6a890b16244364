import type { ServiceLogger } from '@sysdesign/platform';
import { type Gossip, Loop, type MemberState, type Replica } from '@sysdesign/quorum';
import type { ClusterRing } from '../domain/ring.js';
import type { KvMetrics } from '../metrics.js';

/**
 * Keeps the ring in step with gossip. A node joins the ring once it has gossiped itself (an
 * incarnation above 0: seeds are assumed alive with incarnation 0 until they speak, and a seed
 * written under another spelling than the node advertises must not become a phantom replica).
 * Nodes never leave the ring on their own: down is the failure detector's business, and their keys
 * go to fallbacks with hints meanwhile. When the ring grows, the Merkle trees are rebuilt for the
 * new replica groups, and anti-entropy then streams the new node its ranges.
 */
export class MembershipWorker {
  private readonly gossip: Gossip;
  private readonly ring: ClusterRing;
  private readonly replica: Replica;
  private readonly logger: ServiceLogger;
  private readonly metrics: KvMetrics;
  private readonly loop: Loop;
  private rebuild: Promise<void> = Promise.resolve();

  constructor(options: {
    gossip: Gossip;
    ring: ClusterRing;
    replica: Replica;
    logger: ServiceLogger;
    metrics: KvMetrics;
    intervalMs: number;
  }) {
    this.gossip = options.gossip;
    this.ring = options.ring;
    this.replica = options.replica;
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

  /** Adds gossiped nodes to the ring; resolves once the trees are rebuilt if it changed. */
  async reconcile(): Promise<void> {
    const joined: string[] = [];
    for (const member of this.gossip.members()) {
      if (
        member.incarnation > 0 &&
        member.state === 'alive' &&
        isNodeUrl(member.node) &&
        this.ring.add(member.node)
      ) {
        joined.push(member.node);
      }
    }
    this.metrics.ringNodes.set(this.ring.size);
    this.refreshGauges();
    if (joined.length === 0) return;
    this.logger.info({ joined, ringNodes: this.ring.size }, 'nodes joined the ring: rebuilding Merkle trees');
    this.rebuild = this.rebuild.then(async () => {
      await this.replica.rebuildMerkle();
      this.metrics.merkleRebuilds.inc({ reason: 'ring_changed' });
    });
    await this.rebuild;
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

function isNodeUrl(node: string): boolean {
  try {
    const url = new URL(node);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === node;
  } catch {
    return false;
  }
}
