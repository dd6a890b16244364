import { createConnection } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Network } from '../../src/faults/partition.js';
import { seededRandom } from '../../src/random.js';
import { waitFor } from '../../src/wait.js';
import { startEchoTarget } from './echo-target.js';

const seed = 22;
const names = ['a', 'b', 'c', 'd', 'e'];
const probeTimeoutMs = 250;

async function startNetwork(): Promise<Network> {
  const nodes: Record<string, number> = {};
  for (const name of names) nodes[name] = (await startEchoTarget()).port;
  const network = await Network.start({ nodes, random: seededRandom(seed) });
  onTestFinished(() => network.close());
  return network;
}

/** Whether `from` gets a reply from `to` over a fresh connection within the probe timeout. */
function probe(network: Network, from: string, to: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: network.addressFor(from, to) });
    const timer = setTimeout(() => finish(false), probeTimeoutMs);
    function finish(reached: boolean) {
      clearTimeout(timer);
      socket.destroy();
      resolve(reached);
    }
    socket.on('error', () => finish(false));
    socket.on('data', () => finish(true));
    socket.write('ping');
  });
}

/** Every ordered pair that can talk right now, as `from->to`, probed in parallel. */
async function reachable(network: Network): Promise<string[]> {
  const pairs = names.flatMap((from) => names.filter((to) => to !== from).map((to) => [from, to] as const));
  const results = await Promise.all(pairs.map(([from, to]) => probe(network, from, to)));
  return pairs.filter((_, index) => results[index]).map(([from, to]) => `${from}->${to}`);
}

/** The ordered pairs within each group: what a partition into `groups` leaves reachable. */
function within(groups: string[][]): string[] {
  return groups
    .flatMap((group) =>
      group.flatMap((from) => group.filter((to) => to !== from).map((to) => `${from}->${to}`)),
    )
    .sort();
}

describe('Network', () => {
  it('connects every ordered pair through its own proxy while healthy', async () => {
    const network = await startNetwork();
    const ports = new Set(
      names.flatMap((from) => names.filter((to) => to !== from).map((to) => network.addressFor(from, to))),
    );
    expect(ports.size).toBe(names.length * (names.length - 1));
    expect(await reachable(network)).toEqual(within([names]));
  });

  it('splits the nodes into groups that talk only among themselves', async () => {
    const network = await startNetwork();
    network.partition([
      ['a', 'b'],
      ['c', 'd', 'e'],
    ]);
    expect((await reachable(network)).sort()).toEqual(
      within([
        ['a', 'b'],
        ['c', 'd', 'e'],
      ]),
    );
  });

  it('isolates one node in both directions', async () => {
    const network = await startNetwork();
    network.isolate('c', 'reset');
    expect((await reachable(network)).sort()).toEqual(within([['c'], ['a', 'b', 'd', 'e']]));
  });

  it('draws the same majority and minority from the same seed', async () => {
    const network = await startNetwork();
    const groups = network.majorityMinority(seededRandom(7));
    expect(network.majorityMinority(seededRandom(7))).toEqual(groups);
    expect(groups.map((group) => group.length)).toEqual([3, 2]);
    expect((await reachable(network)).sort()).toEqual(within(groups));
  });

  it('keeps the bridge node talking to both halves that cannot see each other', async () => {
    const network = await startNetwork();
    const { bridge, halves } = network.bridge();
    expect(bridge).toBe('c');
    expect(halves).toEqual([
      ['a', 'b'],
      ['d', 'e'],
    ]);
    expect((await reachable(network)).sort()).toEqual(
      within([
        ['a', 'b', 'c'],
        ['c', 'd', 'e'],
      ]),
    );
  });

  it('lets each node of a ring reach only its neighbours, a majority with itself', async () => {
    const network = await startNetwork();
    const order = network.ring();
    expect(order).toEqual(names);
    const pairs = await reachable(network);
    for (const node of names) {
      const reached = pairs.filter((pair) => pair.startsWith(`${node}->`)).length;
      expect(reached + 1).toBe(3);
    }
    expect(pairs).toContain('a->e');
    expect(pairs).not.toContain('a->c');
  });

  it('drops only what one node sends to another on a one-way cut, whoever opened the connection', async () => {
    const network = await startNetwork();
    network.oneWay('a', 'b');
    const pairs = await reachable(network);
    // a's requests to b are lost, and so are a's replies to b: both pairs fail, every other one works.
    expect(pairs).not.toContain('a->b');
    expect(pairs).not.toContain('b->a');
    expect(pairs).toHaveLength(names.length * (names.length - 1) - 2);
    await waitFor(
      () => network.link('a', 'b').connectionCount + network.link('b', 'a').connectionCount === 0,
      'the connections the probes closed to close on the proxies as well',
    );
  });

  it('restores every pair on heal', async () => {
    const network = await startNetwork();
    network.majorityMinority(seededRandom(seed));
    network.oneWay('a', 'e');
    network.heal();
    expect((await reachable(network)).sort()).toEqual(within([names]));
  });

  it('leaves no socket or server open after close, under a partition', async () => {
    const tcpHandles = () =>
      process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap' || name === 'TCPServerWrap')
        .length;
    // Handles of the previous tests close a loop turn after their cleanups: start from none.
    await waitFor(() => tcpHandles() === 0, 'the previous tests to release their TCP handles');
    const network = await startNetwork();
    const withoutTraffic = tcpHandles();
    network.majorityMinority(seededRandom(seed));
    const held = names
      .slice(1)
      .map((to) => createConnection({ host: '127.0.0.1', port: network.addressFor('a', to) }));
    for (const socket of held) {
      socket.on('error', () => {});
      onTestFinished(() => {
        socket.destroy();
      });
    }
    await waitFor(() => tcpHandles() >= withoutTraffic + 3 * held.length, 'the held connections to open');
    await network.close();
    for (const socket of held) socket.destroy();
    await waitFor(() => tcpHandles() === names.length, 'only the echo nodes to be left listening');
  });

  it('refuses groups naming an unknown node or one node twice', async () => {
    const network = await startNetwork();
    expect(() => network.partition([['a'], ['z']])).toThrow('no node named z');
    expect(() => network.partition([['a', 'b'], ['b']])).toThrow('node b is in two groups');
  });
});
