import { describe, expect, it } from 'vitest';
import {
  contextOf,
  digestVersions,
  EMPTY_CLOCK,
  fullClock,
  liveValues,
  MemoryReplicaStore,
  Replica,
  reconcile,
  supersedes,
  type VectorClock,
  type Version,
} from '../src/index.js';
import { VirtualClock } from '../src/testing.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array | null) => (value === null ? null : new TextDecoder().decode(value));

function version(actor: string, counter: number, clock: VectorClock, value: string | null): Version {
  return { dot: { actor, counter, timeMs: counter }, clock, value: value === null ? null : bytes(value) };
}

function replicaFor(actorName = 'a') {
  return new Replica({
    self: actorName,
    incarnation: 1,
    store: new MemoryReplicaStore(),
    clock: new VirtualClock(100),
  });
}

describe('versions and siblings', () => {
  it('drops a version its successor read, and keeps concurrent ones as siblings', () => {
    // v1; v2 written over v1; v3 written over v1 too: v1 goes, v2 and v3 are siblings.
    const v1 = version('a', 1, EMPTY_CLOCK, 'one');
    const v2 = version('a', 2, fullClock(v1), 'two');
    const v3 = version('b', 1, fullClock(v1), 'three');
    const siblings = reconcile([v1], [v2], [v3]);
    expect(siblings.map((sibling) => text(sibling.value))).toEqual(['two', 'three']);
    expect(supersedes(v2, v1)).toBe(true);
    expect(supersedes(v2, v3) || supersedes(v3, v2)).toBe(false);
    // A write with the merged context resolves both.
    const v4 = version('c', 1, contextOf(siblings), 'resolved');
    expect(reconcile(siblings, [v4]).map((sibling) => text(sibling.value))).toEqual(['resolved']);
  });

  it('is order-independent, idempotent and collapses duplicates by dot', () => {
    // Replicas merge in whatever order messages arrive; the result must not depend on it.
    const v1 = version('a', 1, EMPTY_CLOCK, 'x');
    const v2 = version('b', 1, EMPTY_CLOCK, 'y');
    const v3 = version('a', 2, fullClock(v1), 'z');
    const forward = reconcile([v1, v2, v3]);
    expect(reconcile([v3, v2, v1])).toEqual(forward);
    expect(reconcile(forward, forward)).toEqual(forward);
    expect(reconcile([v2, v2, v2])).toHaveLength(1);
    expect(digestVersions(forward)).toBe(digestVersions([...forward].reverse()));
  });

  it('treats a tombstone as a version: it deletes what it read and loses to a later write', () => {
    // delete over v1 -> only the tombstone; a put over the tombstone -> only the put.
    const v1 = version('a', 1, EMPTY_CLOCK, 'value');
    const tombstone = version('a', 2, fullClock(v1), null);
    expect(liveValues(reconcile([v1], [tombstone]))).toEqual([]);
    expect(reconcile([v1], [tombstone])).toHaveLength(1);
    const revived = version('b', 1, fullClock(tombstone), 'back');
    expect(reconcile([tombstone, revived]).map((sibling) => text(sibling.value))).toEqual(['back']);
    // A delete that did not read a concurrent put leaves that put alive beside the tombstone.
    const concurrent = version('c', 1, EMPTY_CLOCK, 'concurrent');
    expect(liveValues(reconcile([tombstone, concurrent])).map(text)).toEqual(['concurrent']);
  });

  it('keeps a sibling minted at the same replica without the writer having read it (no lost update)', async () => {
    // Two clients read nothing, then both write through replica a. With Dynamo's plain clocks the
    // second write would get [a:2] > [a:1] and silently replace the first; with a dot it does not.
    const replica = replicaFor('a');
    await replica.mint('k', bytes('first'), EMPTY_CLOCK, 'w1');
    const second = await replica.mint('k', bytes('second'), EMPTY_CLOCK, 'w2');
    expect(second.siblings.map((sibling) => text(sibling.value)).sort()).toEqual(['first', 'second']);
    // A third write with the merged context replaces both.
    const third = await replica.mint('k', bytes('third'), contextOf(second.siblings), 'w3');
    expect(third.siblings.map((sibling) => text(sibling.value))).toEqual(['third']);
  });

  it('answers a duplicated mint with the version minted the first time', async () => {
    // A retried or duplicated request must not create a second version of the same write.
    const replica = replicaFor('a');
    const first = await replica.mint('k', bytes('v'), EMPTY_CLOCK, 'write-1');
    const again = await replica.mint('k', bytes('v'), EMPTY_CLOCK, 'write-1');
    expect(again.version).toEqual(first.version);
    expect(again.siblings).toHaveLength(1);
    expect(replica.stats().duplicateMints).toBe(1);
  });

  it('refuses a write that would leave more siblings than maxSiblings, and accepts the resolving one', async () => {
    // Three blind writes fill a limit of 3; the fourth blind one is refused; one with the merged context is not.
    const replica = new Replica({
      self: 'a',
      incarnation: 1,
      store: new MemoryReplicaStore(),
      clock: new VirtualClock(),
      maxSiblings: 3,
    });
    let last = await replica.mint('k', bytes('1'), EMPTY_CLOCK, 'w1');
    last = await replica.mint('k', bytes('2'), EMPTY_CLOCK, 'w2');
    last = await replica.mint('k', bytes('3'), EMPTY_CLOCK, 'w3');
    await expect(replica.mint('k', bytes('4'), EMPTY_CLOCK, 'w4')).rejects.toMatchObject({
      code: 'QUORUM_ERR_TOO_MANY_SIBLINGS',
    });
    const resolved = await replica.mint('k', bytes('merged'), contextOf(last.siblings), 'w5');
    expect(resolved.siblings).toHaveLength(1);
  });

  it('refuses a write that would leave siblings larger than maxSiblingsBytes, and accepts the resolving one', async () => {
    // Two blind 400-byte writes fit 1000 bytes; a third does not; one large merged value always does.
    const replica = new Replica({
      self: 'a',
      incarnation: 1,
      store: new MemoryReplicaStore(),
      clock: new VirtualClock(),
      maxSiblingsBytes: 1000,
    });
    const value = new Uint8Array(400);
    await replica.mint('k', value, EMPTY_CLOCK, 'w1');
    const last = await replica.mint('k', value, EMPTY_CLOCK, 'w2');
    await expect(replica.mint('k', value, EMPTY_CLOCK, 'w3')).rejects.toMatchObject({
      code: 'QUORUM_ERR_SIBLINGS_TOO_LARGE',
      message: expect.stringMatching(/more than 1000/),
    });
    expect(replica.stats().refusedSiblingsTooLarge).toBe(1);
    const resolved = await replica.mint('k', new Uint8Array(2000), contextOf(last.siblings), 'w4');
    expect(resolved.siblings).toHaveLength(1);
  });

  it('names its actor by incarnation, so a restarted node never reuses a dot', async () => {
    // Counters live in memory; a restart is a new actor whose counter 1 is a different dot.
    const store = new MemoryReplicaStore();
    const before = new Replica({ self: 'a', incarnation: 1, store, clock: new VirtualClock() });
    const first = await before.mint('k', bytes('before'), EMPTY_CLOCK, 'w1');
    const after = new Replica({ self: 'a', incarnation: 2, store, clock: new VirtualClock() });
    const second = await after.mint('k', bytes('after'), EMPTY_CLOCK, 'w1');
    expect(first.version.dot.actor).toBe('a#1');
    expect(second.version.dot.actor).toBe('a#2');
    expect(second.siblings.map((sibling) => text(sibling.value)).sort()).toEqual(['after', 'before']);
  });
});
