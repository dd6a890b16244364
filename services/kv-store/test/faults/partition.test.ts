import { waitFor } from '@sysdesign/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { History, NetworkSwitch, startCluster, type TestCluster } from '../helpers.js';

/**
 * A partition that heals: writes land on both sides (W = 2 on the majority side, w = 1 on the
 * minority), and Merkle-tree anti-entropy alone (no hints, no read repair, no client reads) makes
 * every replica hold every version, concurrent ones as siblings, with identical trees at the end.
 */

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('a partition that heals', () => {
  it('converges every replica through Merkle anti-entropy without client reads', async () => {
    const links = new NetworkSwitch();
    cluster = await startCluster(3, {
      links,
      env: {
        SLOPPY_QUORUM: 'false',
        HINTED_HANDOFF: 'false',
        READ_REPAIR: 'false',
        ANTI_ENTROPY_INTERVAL_MS: '100',
      },
    });
    const [a, b, c] = cluster.nodes as [
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
    ];
    const history = new History();
    links.partition([a, b], [c]);
    for (let index = 0; index < 25; index++) {
      expect((await a.put(`majority-${index}`, `m-${index}`)).status).toBe(204);
      history.acknowledged(`majority-${index}`, `m-${index}`);
      expect((await c.put(`minority-${index}`, `n-${index}`, { query: '?w=1' })).status).toBe(204);
      history.acknowledged(`minority-${index}`, `n-${index}`);
    }
    // The same key written on both sides: after the heal, both versions, as siblings.
    expect((await b.put('both', 'left')).status).toBe(204);
    expect((await c.put('both', 'right', { query: '?w=1' })).status).toBe(204);
    expect(await c.storedValues('majority-0')).toEqual([]);
    expect(await a.storedValues('minority-0')).toEqual([]);

    links.heal();
    const nodes = [a, b, c];
    await waitFor(
      async () => {
        for (const node of nodes) {
          if ((await history.missing((key) => node.storedValues(key))).length > 0) return false;
          if ((await node.storedValues('both')).length !== 2) return false;
        }
        return true;
      },
      'anti-entropy to bring every write to every replica',
      { timeoutMs: 15_000, intervalMs: 50 },
    );
    // Identical Merkle trees: nothing left to repair.
    const range = a.node.ring.rangeOf('both');
    const roots = nodes.map((node) => node.node.quorum.replica.merkle(range).hashesAt(0, [0])[0]);
    expect(new Set(roots).size).toBe(1);
    // Rounds run on every node; the repairs show in the metrics of whichever ran them.
    const metrics = (
      await Promise.all(nodes.map(async (node) => (await node.request('GET', '/metrics')).text()))
    ).join('\n');
    expect(metrics).toMatch(/kv_anti_entropy_rounds_total\{[^}]*result="repaired"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/kv_anti_entropy_keys_total\{[^}]*direction="(pulled|pushed)"[^}]*\} [1-9]/);
    // The acknowledged history reads back through any node, and the conflict shows as siblings.
    expect(await history.missing(async (key) => [await (await b.get(key)).text()])).toEqual([]);
    expect((await a.get('both')).status).toBe(300);
  });
});
