import { describe, expect, it } from 'vitest';
import { digestVersions, EMPTY_CLOCK, HintedHandoff, MemoryHintStore, type Version } from '../src/index.js';
import { bytes, createTestCluster } from './helpers.js';

function handoffFor(cluster: ReturnType<typeof createTestCluster>, id: string, intervalMs = 100) {
  return new HintedHandoff({
    hints: cluster.hints(id),
    transport: cluster.network.transport(id),
    health: cluster.health,
    clock: cluster.clock,
    intervalMs,
    timeoutMs: 50,
  });
}

const version = (actor: string, counter: number, value: string | null): Version => ({
  dot: { actor, counter, timeMs: 0 },
  clock: EMPTY_CLOCK,
  value: value === null ? null : bytes(value),
});

describe('hinted handoff', () => {
  it('hands the write back when the replica returns, then deletes the hint', async () => {
    // node-b down during the write: node-d holds a hint; node-b returns; one round later it has the value.
    const cluster = createTestCluster({ w: 3 });
    cluster.crash('node-b');
    cluster.markDown('node-b');
    await cluster.run(cluster.coordinator('node-a').put('k', bytes('v')));
    const handoff = handoffFor(cluster, 'node-d');
    handoff.start();
    await cluster.clock.advance(500);
    expect(cluster.hints('node-d').peek()).toHaveLength(1);
    expect(handoff.stats().delivered).toBe(0);

    cluster.restart('node-b');
    cluster.markUp('node-b');
    await cluster.clock.advance(150);
    expect(cluster.valuesOn('node-b', 'k')).toEqual(['v']);
    expect(cluster.hints('node-d').peek()).toHaveLength(0);
    expect(cluster.hints('node-d').stats()).toMatchObject({ entries: 0, bytes: 0 });
    expect(handoff.stats().delivered).toBe(1);
    handoff.stop();
  });

  it('keeps the hint when delivery fails, and delivers on a later round', async () => {
    // The detector says node-b is up but it is not: the round fails, the hint stays, the next round succeeds.
    const cluster = createTestCluster({ w: 3 });
    cluster.crash('node-b');
    cluster.markDown('node-b');
    await cluster.run(cluster.coordinator('node-a').put('k', bytes('v')));
    cluster.markUp('node-b');
    const handoff = handoffFor(cluster, 'node-d');
    const failed = await cluster.run(handoff.runOnce());
    expect(failed).toMatchObject({ delivered: 0, failedReplicas: ['node-b'] });
    expect(cluster.hints('node-d').peek()).toHaveLength(1);
    cluster.restart('node-b');
    const delivered = await cluster.run(handoff.runOnce());
    expect(delivered).toMatchObject({ delivered: 1, failedReplicas: [] });
    expect(cluster.valuesOn('node-b', 'k')).toEqual(['v']);
  });

  it('uses one fallback per absent replica, and keeps a shared hint until every owner has it', async () => {
    // node-b and node-c down: node-d and node-e each stand in for one. A hint owed to two replicas
    // (a fallback that stood in for both) is deleted only after the second delivery.
    const cluster = createTestCluster({ nodes: 5, w: 1 });
    for (const id of ['node-b', 'node-c']) {
      cluster.crash(id);
      cluster.markDown(id);
    }
    await cluster.run(cluster.coordinator('node-a').put('k', bytes('v')));
    await cluster.clock.advance(10);
    const holders = ['node-d', 'node-e'].filter((id) => cluster.hints(id).peek().length > 0);
    expect(holders.sort()).toEqual(['node-d', 'node-e']);
    const store = new MemoryHintStore();
    const v = [version('x#1', 1, 'v')];
    await store.update('node-b', 'k', () => v, 0);
    await store.update('node-c', 'k', (current) => [...current], 0);
    expect(store.peek()[0]!.owners).toEqual(['node-b', 'node-c']);
    await store.delivered('node-b', 'k', digestVersions(v));
    expect(store.peek()[0]!.owners).toEqual(['node-c']);
    await store.delivered('node-c', 'k', digestVersions(v));
    expect(store.peek()).toHaveLength(0);
  });

  it('does not delete a hint that gained versions while it was being delivered', async () => {
    // Delivered digest is of the old set; the entry now holds more, so the owner still needs it.
    const store = new MemoryHintStore();
    await store.update('node-b', 'k', () => [version('x#1', 1, 'old')], 0);
    const sentDigest = digestVersions(store.peek()[0]!.versions);
    await store.update('node-b', 'k', (current) => [...current, version('y#1', 1, 'new')], 1);
    await store.delivered('node-b', 'k', sentDigest);
    expect(store.peek()[0]!.versions).toHaveLength(2);
  });

  it('bounds hints by count, bytes and age', async () => {
    // maxEntries 2 refuses a third key; maxBytes refuses a big value; maxAgeMs drops stale entries.
    const byCount = new MemoryHintStore({ maxEntries: 2 });
    await byCount.update('b', 'k1', () => [version('x#1', 1, 'v')], 0);
    await byCount.update('b', 'k2', () => [version('x#1', 2, 'v')], 0);
    await byCount.update('b', 'k1', (current) => [...current, version('x#1', 3, 'v')], 0);
    await expect(byCount.update('b', 'k3', () => [version('x#1', 4, 'v')], 0)).rejects.toMatchObject({
      code: 'QUORUM_ERR_HINTS_FULL',
    });
    const byBytes = new MemoryHintStore({ maxBytes: 1000 });
    await expect(
      byBytes.update('b', 'k', () => [version('x#1', 1, 'x'.repeat(2000))], 0),
    ).rejects.toMatchObject({
      code: 'QUORUM_ERR_HINTS_FULL',
    });
    expect(byBytes.stats()).toMatchObject({ entries: 0, bytes: 0, refused: 1 });
    const byAge = new MemoryHintStore({ maxAgeMs: 1000 });
    await byAge.update('b', 'old', () => [version('x#1', 1, 'v')], 0);
    await byAge.update('b', 'new', () => [version('x#1', 2, 'v')], 900);
    expect(await byAge.expire(1500)).toBe(1);
    expect(byAge.peek().map((entry) => entry.key)).toEqual(['new']);
    expect(byAge.stats().expired).toBe(1);
    expect(() => new MemoryHintStore({ maxEntries: 0 })).toThrow(/hints.maxEntries must be positive/);
  });

  it('hands off at most maxKeysPerRound keys per round', async () => {
    // 5 hinted keys, a bound of 2 per round: three rounds empty the store.
    const cluster = createTestCluster({ w: 3 });
    cluster.crash('node-b');
    cluster.markDown('node-b');
    for (let index = 0; index < 5; index++) {
      await cluster.run(cluster.coordinator('node-a').put(`k${index}`, bytes('v'), EMPTY_CLOCK));
    }
    cluster.restart('node-b');
    cluster.markUp('node-b');
    const handoff = new HintedHandoff({
      hints: cluster.hints('node-d'),
      transport: cluster.network.transport('node-d'),
      health: cluster.health,
      clock: cluster.clock,
      maxKeysPerRound: 2,
      batchKeys: 1,
    });
    const rounds = [];
    for (let round = 0; round < 3; round++) rounds.push((await cluster.run(handoff.runOnce())).delivered);
    expect(rounds).toEqual([2, 2, 1]);
    expect(cluster.hints('node-d').peek()).toHaveLength(0);
  });
});
