import { type Clock, systemClock } from './clock.js';
import { InvalidOptionError } from './errors.js';
import { Loop } from './loop.js';
import { Random } from './random.js';
import {
  expectResponse,
  type HealthView,
  type MemberDigest,
  type NodeId,
  type PeerRequest,
  type PeerResponse,
  type Transport,
} from './transport.js';

/**
 * Gossip membership and failure detection (heartbeat style, as in the textbook and Cassandra):
 *
 * - Every `intervalMs` a node raises its own heartbeat counter and exchanges its whole table
 *   (node, incarnation, heartbeat) with `fanout` random live peers (push-pull). Each side keeps,
 *   per node, the highest (incarnation, heartbeat) it has heard, and when it last went up.
 * - A node whose heartbeat has not gone up for `suspectAfterMs` (T_suspect) is `suspect`; after
 *   `removeAfterMs` (T_remove) it is `dead`: out of the health view and of gossip targets. Its
 *   entry is kept (so stale gossip cannot revive it) until `forgetAfterMs`.
 * - Each round also gossips, with probability dead/(live+1), with one dead node, and with a seed
 *   when no peer is live, so two halves of a healed partition find each other again.
 * - A restarted node comes back with a higher incarnation: its heartbeat starts from 0 again, and
 *   (incarnation, heartbeat) still compares higher than anything from its previous life. A node
 *   that hears of itself with a higher incarnation than its own takes a higher one still.
 *
 * Membership is earned, never told: a node named in someone's gossip (or sending gossip itself) is
 * only a candidate until this node has reached it and exchanged tables with it over its own
 * transport (which a service authenticates). Candidates are neither gossiped on nor members;
 * `admit` filters them (an address allowlist), at most `maxJoinsPerRound` are tried per round,
 * and the table and candidates together hold at most `maxMembers`. A forged table can therefore
 * add nothing, and a flood of names costs a bounded number of probes.
 */

export type MemberState = 'alive' | 'suspect' | 'dead';

export interface Member {
  node: NodeId;
  incarnation: number;
  heartbeat: number;
  state: MemberState;
  /** Local clock time the heartbeat last went up (or the node was first heard of). */
  lastHeardMs: number;
}

export type MembershipListener = (node: NodeId, from: MemberState | undefined, to: MemberState) => void;

export const DEFAULT_GOSSIP_INTERVAL_MS = 1000;
export const DEFAULT_GOSSIP_FANOUT = 3;
export const DEFAULT_SUSPECT_AFTER_MS = 5000;
export const DEFAULT_REMOVE_AFTER_MS = 15_000;
export const DEFAULT_FORGET_AFTER_MS = 10 * 60_000;
/** Most members one table holds: a bound on gossip message size. */
export const MAX_MEMBERS = 4096;
export const DEFAULT_MAX_JOINS_PER_ROUND = 4;

export interface GossipOptions {
  self: NodeId;
  /** Must exceed the incarnation of every earlier run of this node (persist it, or use the start time). */
  incarnation: number;
  transport: Transport;
  /** Nodes to contact at start and whenever no peer is live; assumed alive until T_suspect says otherwise. */
  seeds?: readonly NodeId[];
  clock?: Clock;
  random?: Random;
  intervalMs?: number;
  fanout?: number;
  suspectAfterMs?: number;
  removeAfterMs?: number;
  /** A dead member is dropped from the table once silent this long (it can join again by answering). */
  forgetAfterMs?: number;
  timeoutMs?: number;
  /** Which nodes may become members at all (an address allowlist). Default: any. Seeds are not asked. */
  admit?: (node: NodeId) => boolean;
  /** Most members plus candidates; names beyond it are ignored. */
  maxMembers?: number;
  /** Most candidates tried per round. */
  maxJoinsPerRound?: number;
}

export class Gossip implements HealthView {
  readonly self: NodeId;
  private readonly transport: Transport;
  private readonly seeds: readonly NodeId[];
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly fanout: number;
  private readonly suspectAfterMs: number;
  private readonly removeAfterMs: number;
  private readonly forgetAfterMs: number;
  private readonly timeoutMs: number;
  private readonly admit: (node: NodeId) => boolean;
  private readonly maxMembers: number;
  private readonly maxJoinsPerRound: number;
  private readonly table = new Map<NodeId, Member>();
  /** Nodes heard of but not yet reached: the highest digest heard, in order of first hearing. */
  private readonly candidates = new Map<NodeId, MemberDigest>();
  private readonly listeners: MembershipListener[] = [];
  private readonly loop: Loop;

  constructor(options: GossipOptions) {
    this.self = options.self;
    this.transport = options.transport;
    this.seeds = (options.seeds ?? []).filter((seed) => seed !== options.self);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? new Random(Date.now() % 2 ** 31);
    const intervalMs = positive('intervalMs', options.intervalMs ?? DEFAULT_GOSSIP_INTERVAL_MS);
    this.fanout = positive('fanout', options.fanout ?? DEFAULT_GOSSIP_FANOUT);
    this.suspectAfterMs = positive('suspectAfterMs', options.suspectAfterMs ?? DEFAULT_SUSPECT_AFTER_MS);
    this.removeAfterMs = positive('removeAfterMs', options.removeAfterMs ?? DEFAULT_REMOVE_AFTER_MS);
    this.forgetAfterMs = positive('forgetAfterMs', options.forgetAfterMs ?? DEFAULT_FORGET_AFTER_MS);
    if (this.removeAfterMs <= this.suspectAfterMs) {
      throw new InvalidOptionError('removeAfterMs', 'must be greater than suspectAfterMs');
    }
    this.timeoutMs = positive('timeoutMs', options.timeoutMs ?? intervalMs);
    this.admit = options.admit ?? (() => true);
    this.maxMembers = positive('maxMembers', options.maxMembers ?? MAX_MEMBERS);
    this.maxJoinsPerRound = positive(
      'maxJoinsPerRound',
      options.maxJoinsPerRound ?? DEFAULT_MAX_JOINS_PER_ROUND,
    );
    const now = this.clock.now();
    this.table.set(this.self, {
      node: this.self,
      incarnation: options.incarnation,
      heartbeat: 0,
      state: 'alive',
      lastHeardMs: now,
    });
    for (const seed of this.seeds) {
      this.table.set(seed, { node: seed, incarnation: 0, heartbeat: 0, state: 'alive', lastHeardMs: now });
    }
    this.loop = new Loop({ clock: this.clock, intervalMs, task: () => this.tick() });
  }

  start(): void {
    this.loop.start(0);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  onChange(listener: MembershipListener): void {
    this.listeners.push(listener);
  }

  isAlive(node: NodeId): boolean {
    return this.table.get(node)?.state === 'alive';
  }

  state(node: NodeId): MemberState | undefined {
    return this.table.get(node)?.state;
  }

  members(): Member[] {
    return [...this.table.values()].map((member) => ({ ...member }));
  }

  get incarnation(): number {
    return this.table.get(this.self)!.incarnation;
  }

  /** Nodes heard of and waiting to be reached before they become members. */
  pendingCandidates(): NodeId[] {
    return [...this.candidates.keys()];
  }

  /** One round: beat, re-evaluate states, exchange tables with the chosen peers, try a few candidates. */
  async tick(): Promise<void> {
    const me = this.table.get(this.self)!;
    me.heartbeat++;
    me.lastHeardMs = this.clock.now();
    this.updateStates();
    const peers = [...this.choosePeers(), ...this.takeCandidates()];
    await Promise.all(peers.map((peer) => this.exchange(peer)));
  }

  /** Serves a gossip request: merge the sender's table, answer with ours. The sender is only a candidate. */
  handle(request: Extract<PeerRequest, { type: 'gossip' }>): PeerResponse {
    this.merge(request.members);
    this.consider({ node: request.from, incarnation: 0, heartbeat: 0 });
    return { type: 'gossip', members: this.digest() };
  }

  private async exchange(peer: NodeId): Promise<void> {
    const request: PeerRequest = { type: 'gossip', from: this.self, members: this.digest() };
    let members: MemberDigest[];
    try {
      const response = await this.transport.request(peer, request, { timeoutMs: this.timeoutMs });
      members = expectResponse(response, 'gossip').members;
    } catch {
      // An unreachable peer is what the failure detector is for; its heartbeat simply stops.
      // An unreachable candidate stays out: it may be named again, and tried again.
      return;
    }
    this.reached(peer, members);
    this.merge(members);
  }

  /** `peer` answered this node's own request: it is a member now, if it was not already. */
  private reached(peer: NodeId, members: readonly MemberDigest[]): void {
    const rumour = this.candidates.get(peer);
    this.candidates.delete(peer);
    if (this.table.has(peer) || this.table.size >= this.maxMembers) return;
    const own = members.find((member) => member.node === peer) ?? rumour;
    this.table.set(peer, {
      node: peer,
      incarnation: own?.incarnation ?? 0,
      heartbeat: own?.heartbeat ?? 0,
      state: 'alive',
      lastHeardMs: this.clock.now(),
    });
    this.emit(peer, undefined, 'alive');
  }

  private takeCandidates(): NodeId[] {
    const chosen = [...this.candidates.keys()].slice(0, this.maxJoinsPerRound);
    for (const node of chosen) this.candidates.delete(node);
    return chosen;
  }

  /** Remembers a node heard of but not reached, within the bounds and the allowlist. */
  private consider(digest: MemberDigest): void {
    if (digest.node === this.self || this.table.has(digest.node)) return;
    const known = this.candidates.get(digest.node);
    if (known !== undefined) {
      if (isNewer(digest, known)) this.candidates.set(digest.node, { ...digest });
      return;
    }
    if (this.table.size + this.candidates.size >= this.maxMembers || !this.admit(digest.node)) return;
    this.candidates.set(digest.node, { ...digest });
  }

  private digest(): MemberDigest[] {
    return [...this.table.values()].map(({ node, incarnation, heartbeat }) => ({
      node,
      incarnation,
      heartbeat,
    }));
  }

  private merge(digests: readonly MemberDigest[]): void {
    const now = this.clock.now();
    for (const digest of digests) {
      if (digest.node === this.self) {
        const me = this.table.get(this.self)!;
        if (digest.incarnation > me.incarnation) me.incarnation = digest.incarnation + 1;
        continue;
      }
      const known = this.table.get(digest.node);
      if (known === undefined) {
        this.consider(digest);
        continue;
      }
      if (!isNewer(digest, known)) continue;
      known.incarnation = digest.incarnation;
      known.heartbeat = digest.heartbeat;
      known.lastHeardMs = now;
      this.setState(known, 'alive');
    }
  }

  private updateStates(): void {
    const now = this.clock.now();
    for (const member of [...this.table.values()]) {
      if (member.node === this.self) continue;
      const silentMs = now - member.lastHeardMs;
      if (silentMs > this.forgetAfterMs && member.state === 'dead') {
        this.table.delete(member.node);
        continue;
      }
      const state: MemberState =
        silentMs > this.removeAfterMs ? 'dead' : silentMs > this.suspectAfterMs ? 'suspect' : 'alive';
      this.setState(member, state);
    }
  }

  private choosePeers(): NodeId[] {
    const live: NodeId[] = [];
    const dead: NodeId[] = [];
    for (const member of this.table.values()) {
      if (member.node === this.self) continue;
      if (member.state === 'dead') dead.push(member.node);
      else live.push(member.node);
    }
    const peers = this.random.sample(live, this.fanout);
    if (dead.length > 0 && this.random.chance(dead.length / (live.length + 1)))
      peers.push(this.random.pick(dead));
    if (live.length === 0 && this.seeds.length > 0) {
      const seed = this.random.pick(this.seeds);
      if (!peers.includes(seed)) peers.push(seed);
    }
    return peers;
  }

  private setState(member: Member, state: MemberState): void {
    if (member.state === state) return;
    const from = member.state;
    member.state = state;
    this.emit(member.node, from, state);
  }

  private emit(node: NodeId, from: MemberState | undefined, to: MemberState): void {
    for (const listener of this.listeners) listener(node, from, to);
  }
}

function isNewer(digest: MemberDigest, than: MemberDigest): boolean {
  return (
    digest.incarnation > than.incarnation ||
    (digest.incarnation === than.incarnation && digest.heartbeat > than.heartbeat)
  );
}

function positive(name: string, value: number): number {
  if (!(value > 0)) throw new InvalidOptionError(name, `must be positive, got ${value}`);
  return value;
}
