import { describe, expect, it } from 'vitest';
import {
  type ClockEntry,
  clockFrom,
  contextOf,
  EMPTY_CLOCK,
  InvalidContextError,
  MemoryReplicaStore,
  Replica,
  type Version,
} from '../src/index.js';
import { VirtualClock } from '../src/testing.js';
import { bytes, createTestCluster, rejection } from './helpers.js';

/**
 * Issue #9: a context is the client's claim of what it read. A claim about this replica's own
 * actor above the last counter it issued cannot come from a read; believed, it carried the
 * actor's counter to 2^53 and bricked every later write. Each replica refuses claims about itself,
 * in a client's context (mint) and in versions other replicas send it (store).
 */

const MAX = Number.MAX_SAFE_INTEGER;

function replicaAt(incarnation = 5, store = new MemoryReplicaStore()) {
  return new Replica({ self: 'a', incarnation, store, clock: new VirtualClock(100) });
}

function claim(actor: string, counter: number): ClockEntry {
  return { actor, counter, timeMs: 0 };
}

function versionBy(actor: string, counter: number, clock: ClockEntry[] = []): Version {
  return { dot: claim(actor, counter), clock: clockFrom(clock), value: bytes(`${actor}:${counter}`) };
}

describe('forged contexts at the replica that mints', () => {
  it('refuses a context that claims a counter above the last this replica issued, and keeps counting from it', async () => {
    const replica = replicaAt();
    await replica.mint('k', bytes('1'), EMPTY_CLOCK, 'w1');
    const forged = clockFrom([claim(replica.actor, MAX)]);
    await expect(replica.mint('k', bytes('x'), forged, 'w2')).rejects.toBeInstanceOf(InvalidContextError);
    await expect(
      replica.mint('other', bytes('x'), clockFrom([claim(replica.actor, 2)]), 'w3'),
    ).rejects.toThrow(/claims counter 2 of a#5, which it never issued/);
    const next = await replica.mint('k', bytes('2'), EMPTY_CLOCK, 'w4');
    expect(next.version.dot.counter).toBe(2);
  });

  it('accepts a context that claims exactly the counters this replica issued', async () => {
    const replica = replicaAt();
    const first = await replica.mint('k', bytes('1'), EMPTY_CLOCK, 'w1');
    const second = await replica.mint('k', bytes('2'), contextOf(first.siblings), 'w2');
    expect(second.siblings).toHaveLength(1);
    expect(second.version.dot.counter).toBe(2);
  });

  it("refuses a context naming a later run of this node, and ignores earlier runs' counters", async () => {
    const replica = replicaAt(5);
    await expect(replica.mint('k', bytes('x'), clockFrom([claim('a#6', 1)]), 'w1')).rejects.toThrow(
      /names a#6, a run of this node that has not started/,
    );
    const earlier = clockFrom([claim('a#4', MAX), claim('ab#9', MAX)]);
    const minted = await replica.mint('k', bytes('y'), earlier, 'w2');
    expect(minted.version.dot).toMatchObject({ actor: 'a#5', counter: 1 });
  });

  it('refuses to mint past Number.MAX_SAFE_INTEGER with a typed error, storing nothing', async () => {
    const store = new MemoryReplicaStore();
    const replica = replicaAt(5, store);
    // 2^53 genuine writes take centuries; the test starts the counter at its last safe value.
    (replica as unknown as { lastCounter: number }).lastCounter = MAX;
    await expect(replica.mint('k', bytes('x'), EMPTY_CLOCK, 'w1')).rejects.toMatchObject({
      code: 'QUORUM_ERR_COUNTER_EXHAUSTED',
    });
    expect(store.peek('k')).toEqual([]);
  });
});

describe('forged claims in versions other replicas send', () => {
  it('leaves out versions claiming counters of this replica it never issued, and stores the rest of the batch', async () => {
    const store = new MemoryReplicaStore();
    const replica = replicaAt(5, store);
    const stored = await replica.store([
      { key: 'forged-dot', versions: [versionBy('a#5', 7)] },
      { key: 'forged-clock', versions: [versionBy('b#1', 1, [claim('a#5', MAX)]), versionBy('c#1', 1)] },
      { key: 'future-run', versions: [versionBy('b#1', 2, [claim('a#9', 1)])] },
      { key: 'genuine', versions: [versionBy('b#1', 3, [claim('a#4', MAX)])] },
    ]);
    expect(stored).toBe(1);
    expect(replica.stats().refusedForgedVersions).toBe(3);
    expect(store.peek('forged-dot')).toEqual([]);
    expect(store.peek('forged-clock').map((version) => version.dot.actor)).toEqual(['c#1']);
    expect(store.peek('future-run')).toEqual([]);
    expect(store.peek('genuine')).toHaveLength(1);
    const next = await replica.mint('forged-clock', bytes('x'), EMPTY_CLOCK, 'w1');
    expect(next.version.dot.counter).toBe(1);
  });
});

describe('forged contexts through the coordinator', () => {
  it("refuses a context claiming the coordinating replica's actor at 2^53-1, and writes on as before", async () => {
    const cluster = createTestCluster();
    const coordinator = cluster.coordinator('node-a');
    const forged = clockFrom([claim('node-a#1', MAX)]);
    const error = await cluster.run(rejection(coordinator.put('k', bytes('x'), forged)));
    expect(error.code).toBe('QUORUM_ERR_INVALID_CONTEXT');
    const after = await cluster.run(coordinator.put('k', bytes('y')));
    expect(after.version.dot).toMatchObject({ actor: 'node-a#1', counter: 1 });
  });

  it('refuses it when the minter is another node, rather than trying the next replica', async () => {
    // node-d is no replica of the key: it forwards the mint to node-a, which refuses it.
    const cluster = createTestCluster();
    const forged = clockFrom([claim('node-a#1', MAX)]);
    const error = await cluster.run(rejection(cluster.coordinator('node-d').put('k', bytes('x'), forged)));
    expect(error.code).toBe('QUORUM_ERR_INVALID_CONTEXT');
    expect(cluster.store('node-b').peek('k')).toEqual([]);
  });

  it("keeps a replica's clocks clean of forged claims about it that another replica coordinated", async () => {
    // node-a cannot know node-b's counters: it mints; node-b refuses the version and is not
    // counted, node-c is; node-b's own writes go on from counter 1.
    const cluster = createTestCluster({ w: 3, sloppy: false });
    const forged = clockFrom([claim('node-b#1', MAX)]);
    const error = await cluster.run(
      rejection(cluster.coordinator('node-a').put('k', bytes('x'), forged, { w: 3 })),
    );
    expect(error.code).toBe('QUORUM_ERR_NOT_MET');
    expect(error.message).toMatch(/node-b: refused the version/);
    await cluster.clock.advance(10);
    expect(cluster.store('node-b').peek('k')).toEqual([]);
    expect(cluster.replica('node-b').stats().refusedForgedVersions).toBe(1);
    const written = await cluster.run(cluster.coordinator('node-b').put('k2', bytes('y')));
    expect(written.version.dot).toMatchObject({ actor: 'node-b#1', counter: 1 });
  });
});
