import { freePort, waitFor } from '@sysdesign/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { peerRequest, startCluster, type TestCluster, type TestNode } from '../helpers.js';

/**
 * Gossip as an attacker (or a confused member) would use it (issue #9, item 3): a member named in
 * gossip joins only once each node has reached it itself with the secret, on an allowed host; a
 * table of 500 members is refused at once; a member that went away leaves the ring after
 * DEAD_MEMBER_REMOVAL_MS, with the hints kept for it.
 */

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const gossipNaming = (members: Array<{ node: string; incarnation: number; heartbeat: number }>) => ({
  type: 'gossip',
  from: members[0]!.node,
  members,
});

async function clusterView(node: TestNode): Promise<string[]> {
  const body = (await (await node.request('GET', '/v1/cluster')).json()) as {
    members: Array<{ url: string }>;
  };
  return body.members.map((member) => member.url);
}

describe('gossip admission', () => {
  it('never puts a forged member on the ring, never sends it replicas, never keeps hints for it', async () => {
    cluster = await startCluster(3);
    const nodes = cluster.nodes;
    // Nothing listens there: a name on an allowed host (127.0.0.1), and one on a host nobody allowed.
    const fakeOnAllowedHost = `http://127.0.0.1:${await freePort()}`;
    const fakeElsewhere = 'http://10.66.0.1:13002';
    const forged = gossipNaming([
      { node: fakeOnAllowedHost, incarnation: 9, heartbeat: 1_000_000 },
      { node: fakeElsewhere, incarnation: 9, heartbeat: 1_000_000 },
    ]);
    for (const node of nodes) {
      // An outsider is refused outright; a member holding the secret is only believed once checked.
      expect((await peerRequest(node.url, forged, null)).status).toBe(401);
      expect((await peerRequest(node.url, forged)).status).toBe(200);
    }
    // Each node tries the allowed name itself, fails, and drops it; the other is never even tried.
    await waitFor(
      () => nodes.every((node) => node.node.gossip.pendingCandidates().length === 0),
      'every node to have tried the forged member',
    );
    for (let index = 0; index < 30; index++) {
      expect((await nodes[index % 3]!.put(`k-${index}`, `v-${index}`)).status).toBe(204);
    }
    for (const node of nodes) {
      expect(node.node.ring.nodes().sort()).toEqual(nodes.map((other) => other.url).sort());
      expect(await clusterView(node)).not.toContain(fakeOnAllowedHost);
      expect(await node.node.hints.owners()).toEqual([]);
      for (let index = 0; index < 30; index++) {
        expect(node.node.ring.preferenceList(`k-${index}`)).not.toContain(fakeOnAllowedHost);
      }
    }
  });

  it('refuses a 500-member gossip at once, with memory and membership unchanged, and stays responsive', async () => {
    cluster = await startCluster(3);
    const [a] = cluster.nodes as [TestNode];
    const members = Array.from({ length: 500 }, (_, index) => ({
      node: `http://127.0.0.${1 + (index >> 8)}:${20_000 + (index & 255)}`,
      incarnation: 1,
      heartbeat: 1,
    }));
    const message = JSON.stringify(gossipNaming(members));
    expect(message.length).toBeGreaterThan(30_000);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    for (let round = 0; round < 20; round++) {
      const response = await peerRequest(a.url, message);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { code: string }).code).toBe('KV_ERR_PEER_MESSAGE_INVALID');
    }
    const elapsedMs = performance.now() - started;
    expect(elapsedMs).toBeLessThan(2_000);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
    expect(a.node.gossip.members()).toHaveLength(3);
    expect(a.node.gossip.pendingCandidates()).toEqual([]);
    const ready = await a.request('GET', '/readyz');
    expect(ready.status).toBe(200);
  });

  it('takes a dead member off the ring after DEAD_MEMBER_REMOVAL_MS, drops its hints, and takes it back when it answers', async () => {
    const removalMs = 2_500;
    cluster = await startCluster(3, { env: { DEAD_MEMBER_REMOVAL_MS: String(removalMs) } });
    const [a, b, c] = cluster.nodes as [TestNode, TestNode, TestNode];
    await c.stop();
    const stoppedAt = Date.now();
    // Writes while c is down leave hints for it on their coordinators.
    for (let index = 0; index < 10; index++) expect((await a.put(`h-${index}`, 'v')).status).toBe(204);
    expect(await a.node.hints.owners()).toEqual([c.url]);
    expect(a.node.ring.has(c.url)).toBe(true);
    await waitFor(() => !a.node.ring.has(c.url) && !b.node.ring.has(c.url), 'c to leave the ring', {
      timeoutMs: removalMs + 5_000,
    });
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(removalMs - 500);
    await waitFor(async () => (await a.node.hints.owners()).length === 0, "c's hints to be dropped");
    expect(await clusterView(a)).not.toContain(c.url);
    await c.start();
    await waitFor(() => a.node.ring.has(c.url) && b.node.ring.has(c.url), 'c to join the ring again', {
      timeoutMs: 10_000,
    });
  });
});
