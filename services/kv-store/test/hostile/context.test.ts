import { encodeContext, type VectorClock } from '@sysdesign/quorum';
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster, type TestNode } from '../helpers.js';

/**
 * Issue #9, item 1: a public PUT whose X-Context gave a node's own actor (visible in GET
 * /v1/cluster) the counter 2^53-1 was accepted; every later write that node coordinated failed
 * with 503, and on restart every node crashed in its Merkle rebuild. A context can only claim what
 * a read returned, so each replica refuses claims about itself above the last counter it issued.
 */

const LAST_SAFE_COUNTER = Number.MAX_SAFE_INTEGER;
let cluster: TestCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** The node's vector-clock actor, as anyone can learn it: url#incarnation from GET /v1/cluster. */
async function actorOf(node: TestNode): Promise<string> {
  const body = (await (await node.request('GET', '/v1/cluster')).json()) as {
    self: { url: string; incarnation: number };
  };
  return `${body.self.url}#${body.self.incarnation}`;
}

function forged(actors: readonly string[]): string {
  const clock: VectorClock = [...actors]
    .sort()
    .map((actor) => ({ actor, counter: LAST_SAFE_COUNTER, timeMs: 0 }));
  return encodeContext(clock);
}

async function expectInvalidContext(response: Response): Promise<void> {
  expect(response.status).toBe(400);
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  expect(((await response.json()) as { code: string }).code).toBe('KV_ERR_INVALID_CONTEXT');
}

async function expectWritesAndReadiness(nodes: readonly TestNode[], key: string): Promise<void> {
  for (const [index, node] of nodes.entries()) {
    expect((await node.put(`${key}-${index}`, `value ${index}`)).status).toBe(204);
    expect((await node.request('GET', '/readyz')).status).toBe(200);
  }
}

describe('a forged X-Context', () => {
  it("is refused with 400 on one node when it claims the node's own actor at 2^53-1, and the node writes and restarts as before", async () => {
    cluster = await startCluster(1);
    const [node] = cluster.nodes as [TestNode];
    const context = forged([await actorOf(node)]);
    await expectInvalidContext(await node.put('victim', 'forged', { context }));
    await expectInvalidContext(
      await node.request('DELETE', '/v1/kv/victim', { headers: { 'x-context': context } }),
    );
    await expectWritesAndReadiness([node], 'after');
    await node.stop();
    await node.start();
    expect(await (await node.get('after-0')).text()).toBe('value 0');
  });

  it('is refused by every node of a three-node cluster, which all keep writing and restart', async () => {
    cluster = await startCluster(3);
    const actors = await Promise.all(cluster.nodes.map(actorOf));
    for (const [index, node] of cluster.nodes.entries()) {
      await expectInvalidContext(await node.put('victim', 'forged', { context: forged([actors[index]!]) }));
      await expectInvalidContext(await node.put('victim', 'forged', { context: forged(actors) }));
    }
    await expectWritesAndReadiness(cluster.nodes, 'after');
    for (const node of cluster.nodes) await node.stop();
    for (const node of cluster.nodes) await node.start();
    for (const [index, node] of cluster.nodes.entries()) {
      expect(await (await node.get(`after-${index}`)).text()).toBe(`value ${index}`);
    }
  });

  it('naming another replica is kept out of that replica, whose own writes and restart are unharmed', async () => {
    // kv-1 cannot know kv-2's counters: it mints, kv-3 stores, kv-2 refuses the version.
    cluster = await startCluster(3);
    const [first, second] = cluster.nodes as [TestNode, TestNode, TestNode];
    const context = forged([await actorOf(second)]);
    expect((await first.put('victim', 'forged', { context })).status).toBe(204);
    const kept = await second.localVersions('victim');
    expect(kept.flatMap((version) => version.clock).map((entry) => entry.counter)).not.toContain(
      LAST_SAFE_COUNTER,
    );
    expect(second.node.quorum.replica.stats().refusedForgedVersions).toBeGreaterThan(0);
    const written = await second.put('elsewhere', 'fine');
    expect(written.status).toBe(204);
    await expectWritesAndReadiness(cluster.nodes, 'after');
    await second.stop();
    await second.start();
    expect((await second.get('elsewhere')).status).toBe(200);
  });
});
