import { waitFor } from '@sysdesign/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { History, startCluster, type TestCluster } from '../helpers.js';

/**
 * One of three nodes down: W = 2 writes and R = 2 reads still succeed; the coordinators keep what
 * the down replica missed as hints on disk; when it returns, hinted handoff delivers them and it
 * holds the latest value of every key, without a client read and with anti-entropy off.
 */

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('one node of three down', () => {
  it('serves W=2 writes and R=2 reads, then hands the missed writes to the returning node', async () => {
    cluster = await startCluster(3);
    const [a, b, c] = cluster.nodes as [
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
    ];
    const history = new History();
    for (let index = 0; index < 10; index++) {
      expect((await a.put(`key-${index}`, `v1-${index}`)).status).toBe(204);
      history.acknowledged(`key-${index}`, `v1-${index}`);
    }
    await waitFor(
      async () => (await history.missing((key) => c.storedValues(key))).length === 0,
      'c to hold the first writes',
    );

    await c.stop();
    // Overwrites (with the context of a read) and new keys, through both live coordinators.
    for (let index = 0; index < 20; index++) {
      const coordinator = index % 2 === 0 ? a : b;
      const key = `key-${index}`;
      const read = await coordinator.get(key);
      expect([200, 404]).toContain(read.status);
      const written = await coordinator.put(key, `v2-${index}`, { context: read.headers.get('x-context') });
      expect(written.status, key).toBe(204);
      history.acknowledged(key, `v2-${index}`);
    }
    expect(await history.missing(async (key) => [await (await a.get(key, '?r=2')).text()])).toEqual([]);
    const hintsHeld = a.node.hints.stats().entries + b.node.hints.stats().entries;
    expect(hintsHeld).toBeGreaterThanOrEqual(20);

    await c.start();
    await waitFor(
      () => a.node.hints.stats().entries + b.node.hints.stats().entries === 0,
      'every hint to be handed off',
      { timeoutMs: 10_000 },
    );
    // c's own store now holds the latest values: no client read (no read repair), no anti-entropy.
    expect(await history.missing((key) => c.storedValues(key))).toEqual([]);
    for (const key of ['key-3', 'key-15']) expect(await c.storedValues(key)).toHaveLength(1);
    const metrics = await (await a.request('GET', '/metrics')).text();
    expect(metrics).toMatch(/kv_hints_handed_off_total\{[^}]*\} [1-9]/);
    expect(metrics).toMatch(/kv_hints_stored_total\{[^}]*\} [1-9]/);
    // And the whole history reads back through the returned node.
    expect(await history.missing(async (key) => [await (await c.get(key, '?r=3')).text()])).toEqual([]);
  });

  it('keeps its hints across its own restart and still hands them off', async () => {
    // Proves hints are on disk: the coordinator holding them restarts before the replica returns.
    cluster = await startCluster(3);
    const [a, , c] = cluster.nodes as [
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
    ];
    const history = new History();
    await c.stop();
    for (let index = 0; index < 5; index++) {
      expect((await a.put(`h-${index}`, `v-${index}`)).status).toBe(204);
      history.acknowledged(`h-${index}`, `v-${index}`);
    }
    await waitFor(() => a.node.hints.stats().entries === 5, 'a to hold 5 hints');
    await a.stop();
    await a.start();
    expect(a.node.hints.stats().entries).toBe(5);
    await c.start();
    await waitFor(
      () => a.node.hints.stats().entries === 0,
      'the hints to be handed off after both restarts',
      { timeoutMs: 10_000 },
    );
    expect(await history.missing((key) => c.storedValues(key))).toEqual([]);
  });
});
