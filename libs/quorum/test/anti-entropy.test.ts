import { describe, expect, it } from 'vitest';
import { AntiEntropy, type AntiEntropyOptions, digestVersions, EMPTY_CLOCK } from '../src/index.js';
import { Random } from '../src/testing.js';
import { bytes, createTestCluster } from './helpers.js';

const DAY_MS = 24 * 60 * 60 * 1000;

function antiEntropyFor(
  cluster: ReturnType<typeof createTestCluster>,
  id: string,
  options: Partial<AntiEntropyOptions> = {},
): AntiEntropy {
  return new AntiEntropy({
    replica: cluster.replica(id),
    transport: cluster.network.transport(id),
    localRanges: () => [{ range: 'all', replicas: ['node-a', 'node-b', 'node-c'] }],
    health: cluster.health,
    clock: cluster.clock,
    random: new Random(3),
    intervalMs: 100,
    timeoutMs: 50,
    ...options,
  });
}

function sameData(cluster: ReturnType<typeof createTestCluster>, ids: string[], keys: string[]): boolean {
  return keys.every((key) => {
    const digests = ids.map((id) => digestVersions(cluster.store(id).peek(key)));
    return digests.every((digest) => digest === digests[0]) && cluster.store(ids[0]!).peek(key).length > 0;
  });
}

async function writeWhilePartitioned(
  cluster: ReturnType<typeof createTestCluster>,
  count: number,
): Promise<string[]> {
  // node-c is cut off while 'count' keys are written through node-a with W=2 (strict quorum).
  cluster.network.partition(['node-a', 'node-b', 'node-d'], ['node-c']);
  const keys = Array.from({ length: count }, (_, index) => `key-${index}`);
  for (const key of keys) await cluster.run(cluster.coordinator('node-a').put(key, bytes(`value of ${key}`)));
  await cluster.clock.advance(200);
  cluster.network.heal();
  return keys;
}

describe('anti-entropy', () => {
  it('converges a replica that missed writes during a partition, without any client read', async () => {
    // 50 keys written while node-c was partitioned away; background rounds on all three replicas fix it.
    const cluster = createTestCluster({ sloppy: false });
    const keys = await writeWhilePartitioned(cluster, 50);
    expect(cluster.store('node-c').size).toBe(0);
    const loops = ['node-a', 'node-b', 'node-c'].map((id) => antiEntropyFor(cluster, id));
    for (const loop of loops) loop.start();
    await cluster.clock.advance(2000);
    for (const loop of loops) loop.stop();
    expect(sameData(cluster, ['node-a', 'node-b', 'node-c'], keys)).toBe(true);
    expect(cluster.coordinator('node-a').stats().gets).toBe(0);
  });

  it('exchanges only what differs: one round trip when in sync, one key when one key differs', async () => {
    // 300 keys on all replicas, then one more written while node-c is cut off.
    const cluster = createTestCluster({ sloppy: false });
    for (let index = 0; index < 300; index++) {
      await cluster.run(cluster.coordinator('node-a').put(`k${index}`, bytes('v'), EMPTY_CLOCK, { w: 3 }));
    }
    const syncer = antiEntropyFor(cluster, 'node-c');
    const inSync = await cluster.run(syncer.syncRange('node-a', 'all'));
    expect(inSync).toMatchObject({ roundTrips: 1, differingLeaves: 0, keysPulled: 0, keysPushed: 0 });
    cluster.network.cut('node-a', 'node-c');
    await cluster.run(cluster.coordinator('node-a').put('extra', bytes('v')));
    await cluster.clock.advance(200);
    cluster.network.heal();
    const repaired = await cluster.run(syncer.syncRange('node-a', 'all'));
    expect(repaired).toMatchObject({ differingLeaves: 1, differingKeys: 1, keysPulled: 1, keysPushed: 0 });
    // Root, 3 descent steps for a depth-10 tree at 4 levels per step, the leaf list, the fetch.
    expect(repaired.roundTrips).toBe(6);
    expect(cluster.valuesOn('node-c', 'extra')).toEqual(['v']);
  });

  it('pushes what the peer lacks and merges keys both sides changed', async () => {
    // node-c alone holds 'mine'; both hold 'both' with different versions: both end with the union.
    const cluster = createTestCluster({ sloppy: false });
    await cluster.replica('node-c').store([
      {
        key: 'mine',
        versions: [{ dot: { actor: 'x#1', counter: 1, timeMs: 0 }, clock: EMPTY_CLOCK, value: bytes('c') }],
      },
      {
        key: 'both',
        versions: [{ dot: { actor: 'x#1', counter: 2, timeMs: 0 }, clock: EMPTY_CLOCK, value: bytes('c') }],
      },
    ]);
    await cluster.replica('node-a').store([
      {
        key: 'both',
        versions: [{ dot: { actor: 'y#1', counter: 1, timeMs: 0 }, clock: EMPTY_CLOCK, value: bytes('a') }],
      },
    ]);
    const report = await cluster.run(antiEntropyFor(cluster, 'node-c').syncRange('node-a', 'all'));
    expect(report).toMatchObject({ differingKeys: 2, keysPulled: 1, keysPushed: 2 });
    expect(cluster.valuesOn('node-a', 'mine')).toEqual(['c']);
    expect(cluster.valuesOn('node-a', 'both')).toEqual(['a', 'c']);
    expect(cluster.valuesOn('node-c', 'both')).toEqual(['a', 'c']);
  });

  it('moves at most maxKeysPerRound keys per round and leaves the rest for later rounds', async () => {
    // 50 missing keys, 10 per round: five rounds, each truncated but the last.
    const cluster = createTestCluster({ sloppy: false });
    const keys = await writeWhilePartitioned(cluster, 50);
    const syncer = antiEntropyFor(cluster, 'node-c', { maxKeysPerRound: 10 });
    const pulled: number[] = [];
    for (let round = 0; round < 6; round++)
      pulled.push((await cluster.run(syncer.syncRange('node-a', 'all'))).keysPulled);
    expect(pulled).toEqual([10, 10, 10, 10, 10, 0]);
    expect(sameData(cluster, ['node-a', 'node-c'], keys)).toBe(true);
  });

  it('stays within the byte budget of bytesPerSecond x interval per round', async () => {
    // 20 keys of ~1 KiB, 4 KiB/s at 1 s rounds: no round moves much more than 4 KiB.
    const cluster = createTestCluster({ sloppy: false });
    cluster.network.partition(['node-a', 'node-b'], ['node-c']);
    for (let index = 0; index < 20; index++) {
      await cluster.run(cluster.coordinator('node-a').put(`big-${index}`, new Uint8Array(1000).fill(index)));
    }
    await cluster.clock.advance(200);
    cluster.network.heal();
    const syncer = antiEntropyFor(cluster, 'node-c', { bytesPerSecond: 4096, intervalMs: 1000 });
    let rounds = 0;
    let moved = 0;
    while (cluster.store('node-c').size < 20) {
      const report = await cluster.run(syncer.syncRange('node-a', 'all'));
      expect(report.bytesPulled).toBeLessThan(4096 + 1200);
      moved += report.keysPulled;
      rounds++;
      expect(rounds).toBeLessThan(20);
    }
    expect(moved).toBe(20);
    expect(rounds).toBeGreaterThanOrEqual(5);
  });

  it('skips tombstones older than the grace period, and still repairs young ones', async () => {
    // An old delete on node-a is not sent to node-c; a fresh delete is.
    const cluster = createTestCluster({ sloppy: false });
    const oldPut = await cluster.run(
      cluster.coordinator('node-a').put('old', bytes('v'), EMPTY_CLOCK, { w: 3 }),
    );
    cluster.network.cut('node-a', 'node-c');
    await cluster.run(cluster.coordinator('node-a').delete('old', oldPut.context));
    await cluster.clock.advance(11 * DAY_MS);
    const youngPut = await cluster.run(
      cluster.coordinator('node-a').put('young', bytes('v'), EMPTY_CLOCK, { w: 2 }),
    );
    await cluster.run(cluster.coordinator('node-a').delete('young', youngPut.context));
    await cluster.clock.advance(200);
    cluster.network.heal();
    const report = await cluster.run(antiEntropyFor(cluster, 'node-a').syncRange('node-c', 'all'));
    expect(report.skippedTombstones).toBe(1);
    expect(
      cluster
        .store('node-c')
        .peek('old')
        .map((version) => version.value === null),
    ).toEqual([false]);
    expect(
      cluster
        .store('node-c')
        .peek('young')
        .map((version) => version.value === null),
    ).toEqual([true]);
  });

  it('picks a random live replica of one of its ranges each round, never itself or a dead one', async () => {
    // node-b believed down: every round of node-a syncs with node-c.
    const cluster = createTestCluster({ sloppy: false });
    cluster.markDown('node-b');
    const syncer = antiEntropyFor(cluster, 'node-a');
    for (let round = 0; round < 10; round++) {
      const report = await cluster.run(syncer.runOnce());
      expect(report?.peer).toBe('node-c');
    }
    cluster.markDown('node-c');
    expect(await cluster.run(syncer.runOnce())).toBeUndefined();
  });
});
