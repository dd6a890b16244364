import { describe, expect, it } from 'vitest';
import { MemoryReplicaStore, QuorumNode } from '../src/index.js';
import {
  DEFAULT_SIMULATION_TIMING,
  MemoryNetwork,
  Random,
  SimulatedCluster,
  VirtualClock,
} from '../src/testing.js';
import { bytes, text } from './helpers.js';

function cluster(options: { antiEntropy?: boolean; hintedHandoff?: boolean } = {}) {
  const clock = new VirtualClock();
  const simulated = new SimulatedCluster({
    clock,
    random: new Random(11),
    nodes: 4,
    n: 3,
    r: 2,
    w: 2,
    sloppy: true,
    antiEntropy: options.antiEntropy ?? false,
    hintedHandoff: options.hintedHandoff ?? true,
    readRepair: false,
    timing: DEFAULT_SIMULATION_TIMING,
  });
  return { clock, cluster: simulated };
}

describe('QuorumNode: the parts wired together', () => {
  it('serves W=2 writes and R=2 reads with one replica down, then hands its writes back when it returns', async () => {
    // Gossip notices the crash, writes go to the fallback as hints, handoff delivers them on return.
    const { clock, cluster: nodes } = cluster();
    await nodes.start();
    await clock.advance(300);
    const key = 'user:42';
    const [first, victim, third, fallback] = nodes.preferenceList(key) as [string, string, string, string];
    nodes.crash(victim);
    await clock.advance(DEFAULT_SIMULATION_TIMING.suspectAfterMs + 300);
    expect(nodes.node(first).health.isAlive(victim)).toBe(false);

    const coordinator = nodes.node(third);
    let context = (await clock.run(coordinator.put(key, bytes('v1')))).context;
    context = (await clock.run(coordinator.put(key, bytes('v2'), context))).context;
    const read = await clock.run(nodes.node(first).get(key));
    expect(read.values.map(text)).toEqual(['v2']);
    expect(
      nodes
        .hints(fallback)
        .peek()
        .map((entry) => entry.owners),
    ).toEqual([[victim]]);

    await nodes.restart(victim);
    await clock.advance(1000);
    expect(
      nodes
        .store(victim)
        .peek(key)
        .map((version) => text(version.value!)),
    ).toEqual(['v2']);
    expect(nodes.hints(fallback).peek()).toHaveLength(0);
    nodes.stopAll();
  });

  it('brings every replica to the same state after a partition heals, through anti-entropy alone', async () => {
    // Writes on one side of a partition; no reads afterwards; Merkle rounds converge the other side.
    const { clock, cluster: nodes } = cluster({ antiEntropy: true, hintedHandoff: false });
    await nodes.start();
    await clock.advance(300);
    const [a, b, c, d] = nodes.nodeIds as [string, string, string, string];
    nodes.network.partition([a, b], [c, d]);
    for (let index = 0; index < 20; index++) {
      await clock.run(
        nodes
          .node(a)
          .put(`key-${index}`, bytes(`v${index}`))
          .catch(() => undefined),
      );
    }
    nodes.network.heal();
    expect(nodes.convergence().converged).toBe(false);
    // 16 ranges x 2 peers per node, one (range, peer) per 100 ms round: seconds, not minutes.
    await clock.advance(10_000);
    expect(nodes.convergence()).toMatchObject({ converged: true, divergentKeys: 0 });
    nodes.stopAll();
  });

  it('routes peer requests: gossip to membership, the rest to the replica', async () => {
    // handle() is the one entry point a service's peer endpoint calls.
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock });
    const node = new QuorumNode({
      self: 'http://127.0.0.1:3002',
      incarnation: 1,
      transport: network.transport('http://127.0.0.1:3002'),
      store: new MemoryReplicaStore(),
      preferenceList: () => ['http://127.0.0.1:3002'],
      clock,
      coordinator: { n: 1, r: 1, w: 1 },
      antiEntropy: false,
      handoff: false,
    });
    await node.start();
    const gossip = await node.handle({ type: 'gossip', from: 'http://127.0.0.1:3021', members: [] });
    expect(gossip.type).toBe('gossip');
    await clock.run(node.put('k', bytes('v')));
    expect(await node.handle({ type: 'read', key: 'k' })).toMatchObject({ type: 'versions' });
    expect((await clock.run(node.get('k'))).values.map(text)).toEqual(['v']);
    node.stop();
  });
});
