import { describe, expect, it } from 'vitest';
import { ClockScope, Gossip, type GossipOptions, type MemberState, QuorumError } from '../src/index.js';
import { MemoryNetwork, Random, VirtualClock } from '../src/testing.js';

const T_SUSPECT = 500;
const T_REMOVE = 1500;
const INTERVAL = 100;

function gossipCluster(size = 5, seed = 1) {
  const clock = new VirtualClock();
  const random = new Random(seed);
  const network = new MemoryNetwork({ clock, random: random.fork(), latency: { minMs: 1, maxMs: 5 } });
  const ids = Array.from({ length: size }, (_, index) => `http://10.0.0.${index + 1}:3002`);
  const nodes = new Map<string, { gossip: Gossip; scope: ClockScope }>();
  const boot = (id: string, incarnation: number) => {
    const scope = new ClockScope(clock);
    const gossip = new Gossip({
      self: id,
      incarnation,
      transport: network.transport(id),
      seeds: ids,
      clock: scope,
      random: random.fork(),
      intervalMs: INTERVAL,
      fanout: 2,
      suspectAfterMs: T_SUSPECT,
      removeAfterMs: T_REMOVE,
    });
    nodes.set(id, { gossip, scope });
    gossip.start();
    return gossip;
  };
  for (const id of ids) {
    network.register(id, async (request) => {
      const node = nodes.get(id);
      if (request.type !== 'gossip' || node === undefined)
        throw new QuorumError('QUORUM_ERR_REMOTE', 'not gossip');
      return node.gossip.handle(request);
    });
    boot(id, 1);
  }
  return {
    clock,
    network,
    ids,
    gossip: (id: string) => nodes.get(id)!.gossip,
    crash(id: string) {
      const node = nodes.get(id)!;
      node.gossip.stop();
      node.scope.dispose();
      network.crash(id);
    },
    restart(id: string, incarnation: number) {
      network.restart(id);
      return boot(id, incarnation);
    },
    /** What every other node thinks of `id`. */
    viewOf(id: string): Array<MemberState | undefined> {
      return ids.filter((other) => other !== id).map((other) => nodes.get(other)!.gossip.state(id));
    },
  };
}

describe('gossip membership', () => {
  it('spreads every heartbeat to every node within a few rounds', async () => {
    // 5 nodes, fanout 2, push-pull: after 1 s everyone has heard recent heartbeats of everyone.
    const cluster = gossipCluster();
    await cluster.clock.advance(1000);
    for (const id of cluster.ids) {
      const members = cluster.gossip(id).members();
      expect(members).toHaveLength(5);
      for (const member of members) {
        expect(member.state).toBe('alive');
        expect(member.heartbeat).toBeGreaterThan(5);
      }
    }
  });

  it('suspects a silent node after T_suspect and removes it after T_remove', async () => {
    // node 5 crashes at t=1000: alive until ~1500, suspect after, dead after ~2500.
    const cluster = gossipCluster();
    const victim = cluster.ids[4]!;
    await cluster.clock.advance(1000);
    cluster.crash(victim);
    await cluster.clock.advance(T_SUSPECT - 2 * INTERVAL);
    expect(cluster.viewOf(victim)).toEqual(['alive', 'alive', 'alive', 'alive']);
    await cluster.clock.advance(3 * INTERVAL);
    expect(cluster.viewOf(victim)).toEqual(['suspect', 'suspect', 'suspect', 'suspect']);
    expect(cluster.gossip(cluster.ids[0]!).isAlive(victim)).toBe(false);
    await cluster.clock.advance(T_REMOVE - T_SUSPECT);
    expect(cluster.viewOf(victim)).toEqual(['dead', 'dead', 'dead', 'dead']);
  });

  it('lets a restarted node rejoin with a higher incarnation, but not with the old one', async () => {
    // After removal, a restart with incarnation 1 (heartbeat back to 0) looks older than what the
    // others remember and is ignored; incarnation 2 outranks it and the node is alive again.
    const cluster = gossipCluster();
    const node = cluster.ids[2]!;
    await cluster.clock.advance(3000);
    cluster.crash(node);
    await cluster.clock.advance(T_REMOVE + 500);
    expect(cluster.viewOf(node)).toEqual(['dead', 'dead', 'dead', 'dead']);
    cluster.restart(node, 1);
    await cluster.clock.advance(1000);
    expect(cluster.viewOf(node)).toEqual(['dead', 'dead', 'dead', 'dead']);
    cluster.crash(node);
    cluster.restart(node, 2);
    await cluster.clock.advance(1000);
    expect(cluster.viewOf(node)).toEqual(['alive', 'alive', 'alive', 'alive']);
  });

  it('finds the other side again after a partition heals', async () => {
    // {1,2,3} | {4,5} long enough for each side to declare the other dead, then heal.
    const cluster = gossipCluster();
    const [a, b, c, d, e] = cluster.ids as [string, string, string, string, string];
    await cluster.clock.advance(500);
    cluster.network.partition([a, b, c], [d, e]);
    await cluster.clock.advance(T_REMOVE + 500);
    expect(cluster.gossip(a).state(d)).toBe('dead');
    expect(cluster.gossip(e).state(b)).toBe('dead');
    cluster.network.heal();
    await cluster.clock.advance(2000);
    for (const id of cluster.ids) {
      expect(
        cluster
          .gossip(id)
          .members()
          .every((member) => member.state === 'alive'),
      ).toBe(true);
    }
  });

  it('sends each round to at most fanout peers (plus one dead node or seed)', async () => {
    // 9 nodes, fanout 2: 10 rounds cost at most 9 x 10 x 3 requests, far fewer than all-to-all's 9 x 8 x 10.
    const cluster = gossipCluster(9);
    await cluster.clock.advance(10 * INTERVAL - 1);
    expect(cluster.network.stats.requests).toBeLessThanOrEqual(9 * 10 * 3);
    expect(cluster.network.stats.requests).toBeGreaterThanOrEqual(9 * 10 * 2);
  });

  it('outbids a stale rumour about itself by raising its own incarnation', async () => {
    // Someone claims this node is at incarnation 7: it moves to 8 so its fresh heartbeats win.
    const cluster = gossipCluster(2);
    const [a, b] = cluster.ids as [string, string];
    cluster
      .gossip(a)
      .handle({ type: 'gossip', from: b, members: [{ node: a, incarnation: 7, heartbeat: 100 }] });
    expect(cluster.gossip(a).incarnation).toBe(8);
  });

  it('reports every state change to listeners', async () => {
    // One crash: alive -> suspect -> dead on each observer.
    const cluster = gossipCluster(3);
    const [a, , c] = cluster.ids as [string, string, string];
    const changes: string[] = [];
    cluster.gossip(a).onChange((node, from, to) => changes.push(`${node === c ? 'c' : node}:${from}->${to}`));
    await cluster.clock.advance(500);
    cluster.crash(c);
    await cluster.clock.advance(T_REMOVE + 500);
    expect(changes).toEqual(['c:alive->suspect', 'c:suspect->dead']);
  });

  it('rejects a remove time that is not after the suspect time', () => {
    // Configuration errors are caught at construction.
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock });
    expect(
      () =>
        new Gossip({
          self: 'a',
          incarnation: 1,
          transport: network.transport('a'),
          clock,
          suspectAfterMs: 1000,
          removeAfterMs: 1000,
        }),
    ).toThrow(/removeAfterMs must be greater than suspectAfterMs/);
  });
});

/** Gossip nodes on one network, each with its own seeds and options. */
function gossipNetwork() {
  const clock = new VirtualClock();
  const random = new Random(7);
  const network = new MemoryNetwork({ clock, random: random.fork(), latency: { minMs: 1, maxMs: 5 } });
  const nodes = new Map<string, Gossip>();
  const add = (id: string, seeds: string[], options: Partial<GossipOptions> = {}) => {
    const gossip = new Gossip({
      self: id,
      incarnation: 1,
      transport: network.transport(id),
      seeds,
      clock,
      random: random.fork(),
      intervalMs: INTERVAL,
      fanout: 2,
      suspectAfterMs: T_SUSPECT,
      removeAfterMs: T_REMOVE,
      ...options,
    });
    network.register(id, async (request) => {
      if (request.type !== 'gossip') throw new QuorumError('QUORUM_ERR_REMOTE', 'not gossip');
      return gossip.handle(request);
    });
    nodes.set(id, gossip);
    gossip.start();
    return gossip;
  };
  const membersOf = (id: string) =>
    nodes
      .get(id)!
      .members()
      .map((member) => member.node)
      .sort();
  return { clock, network, add, membersOf };
}

const A = 'http://10.0.0.1:3002';
const B = 'http://10.0.0.2:3002';
const C = 'http://10.0.0.3:3002';
const FAKE = 'http://10.0.0.66:3002';

describe('gossip admission', () => {
  it('never makes a member of a node named only in gossip that it cannot reach, nor passes the name on', async () => {
    const net = gossipNetwork();
    const a = net.add(A, [B]);
    net.add(B, [A]);
    a.handle({ type: 'gossip', from: FAKE, members: [{ node: FAKE, incarnation: 9, heartbeat: 99 }] });
    expect(a.pendingCandidates()).toEqual([FAKE]);
    expect(net.membersOf(A)).toEqual([A, B]);
    await net.clock.advance(2000);
    expect(net.membersOf(A)).toEqual([A, B]);
    expect(net.membersOf(B)).toEqual([A, B]);
    expect(a.pendingCandidates()).toEqual([]);
  });

  it('admits a node it heard of from a member once that node answers its own request', async () => {
    // c knows only b; a learns of c from b and reaches c itself before taking it in.
    const net = gossipNetwork();
    const a = net.add(A, [B]);
    net.add(B, [A]);
    net.add(C, [B]);
    const joined: string[] = [];
    a.onChange((node, from, to) => from === undefined && joined.push(`${node}:${to}`));
    await net.clock.advance(1000);
    expect(net.membersOf(A)).toEqual([A, B, C]);
    expect(joined).toEqual([`${C}:alive`]);
    expect(a.state(C)).toBe('alive');
  });

  it('ignores names its allowlist refuses', async () => {
    const net = gossipNetwork();
    net.add(A, [B], { admit: (node) => node !== C });
    net.add(B, [A]);
    net.add(C, [B]);
    await net.clock.advance(1000);
    expect(net.membersOf(A)).toEqual([A, B]);
    expect(net.membersOf(B)).toEqual([A, B, C]);
  });

  it('bounds a flood of names: candidates by maxMembers, tries per round by maxJoinsPerRound', async () => {
    // 500 forged names in one message: a keeps at most maxMembers, tries 2 a round, and stays a member of b.
    const net = gossipNetwork();
    const a = net.add(A, [B], { maxMembers: 50, maxJoinsPerRound: 2 });
    net.add(B, [A]);
    const forged = Array.from({ length: 500 }, (_, index) => ({
      node: `http://10.9.${index >> 8}.${index & 255}:3002`,
      incarnation: 1,
      heartbeat: 1,
    }));
    a.handle({ type: 'gossip', from: B, members: forged });
    expect(a.pendingCandidates()).toHaveLength(48);
    const before = net.network.stats.requests;
    await net.clock.advance(INTERVAL);
    // One round: at most fanout (2) + a seed + 2 candidates, from a; b's own round adds at most 3.
    expect(net.network.stats.requests - before).toBeLessThanOrEqual(2 + 1 + 2 + 3);
    expect(a.pendingCandidates()).toHaveLength(46);
    expect(net.membersOf(A)).toEqual([A, B]);
  });

  it('forgets a dead member after forgetAfterMs, and stale gossip about it cannot bring it back', async () => {
    const net = gossipNetwork();
    const a = net.add(A, [B, C], { forgetAfterMs: 3000 });
    net.add(B, [A, C], { forgetAfterMs: 3000 });
    net.add(C, [A, B]);
    await net.clock.advance(500);
    expect(net.membersOf(A)).toEqual([A, B, C]);
    net.network.crash(C);
    await net.clock.advance(3500);
    expect(net.membersOf(A)).toEqual([A, B]);
    a.handle({ type: 'gossip', from: B, members: [{ node: C, incarnation: 1, heartbeat: 10_000 }] });
    await net.clock.advance(1000);
    expect(net.membersOf(A)).toEqual([A, B]);
  });
});
