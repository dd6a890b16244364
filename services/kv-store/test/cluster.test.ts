import { waitFor } from '@sysdesign/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { History, liveTexts, NetworkSwitch, startCluster, type TestCluster } from './helpers.js';

/**
 * Three in-process nodes on real sockets (N = 3, W = 2, R = 2 by default), talking HTTP to each
 * other: replication through any coordinator, siblings from concurrent writers and their
 * resolution, read repair, the 503 that says how many replicas answered, and the cluster view.
 */

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('a three-node cluster', () => {
  it('replicates a write through any node to all three, readable through every other', async () => {
    // Proves any node coordinates any key and W = 2 writes reach the third replica too (in the background).
    cluster = await startCluster(3);
    const [a, b, c] = cluster.nodes as [
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
    ];
    const history = new History();
    for (let index = 0; index < 30; index++) {
      const coordinator = cluster.nodes[index % 3]!;
      const response = await coordinator.put(`key-${index}`, `value-${index}`);
      expect(response.status).toBe(204);
      history.acknowledged(`key-${index}`, `value-${index}`);
    }
    for (const reader of [a, b, c]) {
      expect(await history.missing(async (key) => [await (await reader.get(key)).text()])).toEqual([]);
    }
    await waitFor(
      async () =>
        (await Promise.all([a, b, c].map((node) => history.missing((key) => node.storedValues(key))))).every(
          (problems) => problems.length === 0,
        ),
      'every replica to hold every write',
    );
  });

  it('keeps both writes of two clients that wrote over the same context as siblings (300), and one write with the merged context resolves them', async () => {
    // Proves vector clocks with dots: concurrent updates are never lost, and the client's merge supersedes both.
    cluster = await startCluster(3);
    const [a, b, c] = cluster.nodes as [
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
    ];
    const created = await a.put('cart', 'milk');
    const readA = await a.get('cart');
    const readB = await b.get('cart');
    const context = readA.headers.get('x-context');
    expect(readB.headers.get('x-context')).toBe(context);
    expect(context).toBe(created.headers.get('x-context'));

    // Two clients, two coordinators, the same context, at the same time.
    const [first, second] = await Promise.all([
      a.put('cart', 'milk,eggs', { context }),
      b.put('cart', 'milk,bread', { context }),
    ]);
    expect([first.status, second.status]).toEqual([204, 204]);

    const conflict = await c.get('cart', '?r=3');
    expect(conflict.status).toBe(300);
    const body = (await conflict.json()) as { context: string; siblings: Array<{ value: string }> };
    expect(body.siblings.map((sibling) => Buffer.from(sibling.value, 'base64').toString()).sort()).toEqual([
      'milk,bread',
      'milk,eggs',
    ]);

    const merged = await c.put('cart', 'milk,eggs,bread', { context: body.context });
    expect(merged.status).toBe(204);
    const history = new History();
    history.acknowledged('cart', 'milk,eggs,bread');
    for (const node of [a, b, c]) {
      const read = await node.get('cart', '?r=3');
      expect(read.status).toBe(200);
      expect(await read.text()).toBe('milk,eggs,bread');
    }
    await waitFor(
      async () =>
        (await Promise.all([a, b, c].map((node) => node.storedValues('cart')))).every(
          (values) => values.length === 1,
        ),
      'the siblings to be gone from every replica',
    );
    expect(await history.missing((key) => a.storedValues(key))).toEqual([]);
  });

  it('repairs a replica that missed a write when a read finds it stale', async () => {
    // Proves read repair: with hints and anti-entropy off, only the read can bring the third replica up to date.
    const links = new NetworkSwitch();
    cluster = await startCluster(3, {
      links,
      env: { SLOPPY_QUORUM: 'false', HINTED_HANDOFF: 'false', READ_REPAIR: 'true' },
    });
    const [a, b, c] = cluster.nodes as [
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
    ];
    links.partition([a, b], [c]);
    expect((await a.put('k', 'v1')).status).toBe(204);
    expect(await c.storedValues('k')).toEqual([]);
    links.heal();
    await waitFor(() => a.node.gossip.isAlive(c.url), 'c to be alive again for a');
    const read = await a.get('k', '?r=3');
    expect(await read.text()).toBe('v1');
    await waitFor(async () => (await c.storedValues('k')).includes('v1'), 'read repair to reach c');
    const metrics = await (await a.request('GET', '/metrics')).text();
    expect(metrics).toMatch(/kv_read_repairs_total\{[^}]*result="sent"[^}]*\} [1-9]/);
  });

  it('answers 503 saying how many replicas answered when W or R cannot be met, and succeeds with w=1', async () => {
    // Proves the quorum is enforced per request and the refusal carries required/answered.
    cluster = await startCluster(3, { env: { REQUEST_TIMEOUT_MS: '300' } });
    const [a, b, c] = cluster.nodes as [
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
    ];
    expect((await a.put('k', 'before')).status).toBe(204);
    await b.stop();
    await c.stop();
    const refused = await a.put('k', 'after');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    const problem = (await refused.json()) as {
      code: string;
      required: number;
      answered: number;
      contacted: number;
      detail: string;
    };
    expect(problem).toMatchObject({ code: 'KV_ERR_QUORUM_NOT_MET', required: 2, answered: 1, contacted: 3 });
    expect(problem.detail).toMatch(/needs 2 of 3 replicas; 1 answered/);
    expect((await a.get('k')).status).toBe(503);
    expect((await a.put('k', 'w1', { query: '?w=1' })).status).toBe(204);
    const read = await a.get('k', '?r=1');
    expect(read.status).toBe(300);
    // Once gossip has noticed, the node also reports itself unready, with the numbers.
    await waitFor(
      async () =>
        (
          (await (await a.request('GET', '/readyz')).json()) as { checks: { quorum: { error?: string } } }
        ).checks.quorum.error?.includes('1 of 3 nodes alive') ?? false,
      'readiness to report 1 of 3 nodes alive',
      { timeoutMs: 5_000 },
    );
    expect((await a.request('GET', '/readyz')).status).toBe(503);
  });

  it('shows every member alive, by name, with about a third of the ring each', async () => {
    // Proves GET /v1/cluster reflects gossip (names, heartbeats) and ring ownership.
    cluster = await startCluster(3);
    const [a] = cluster.nodes;
    await waitFor(async () => {
      const body = (await (await a!.request('GET', '/v1/cluster')).json()) as {
        members: Array<{ id: string | null; heartbeat: number }>;
      };
      return body.members.every((member) => member.id !== null && member.heartbeat > 0);
    }, 'every member to have gossiped');
    const body = (await (await a!.request('GET', '/v1/cluster')).json()) as {
      self: { id: string };
      members: Array<{
        id: string;
        state: string;
        onRing: boolean;
        ownership: { primary: number; replica: number };
      }>;
      ring: { nodes: number; replicaGroups: number };
    };
    expect(body.self.id).toBe('kv-1');
    expect(body.members.map((member) => member.id).sort()).toEqual(['kv-1', 'kv-2', 'kv-3']);
    for (const member of body.members) {
      expect(member.state).toBe('alive');
      expect(member.onRing).toBe(true);
      expect(member.ownership.primary).toBeGreaterThan(0.25);
      expect(member.ownership.primary).toBeLessThan(0.42);
      expect(member.ownership.replica).toBeCloseTo(1, 9);
    }
    expect(body.ring).toMatchObject({ nodes: 3, replicaGroups: 1 });
    expect(liveTexts([])).toEqual([]);
  });
});
