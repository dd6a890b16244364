import { describe, expect, it } from 'vitest';
import { ConsistentHashingErrorCode, HashRing, hashPosition } from '../src/index.js';
import { expectCode, makeKeys, nodeNames } from './helpers.js';

/** Distinct owners of the tokens clockwise from the key, by brute force over the sorted token list. */
function referenceWalk(ring: HashRing, key: string): string[] {
  const tokens = ring
    .nodes()
    .flatMap((node) => ring.tokensOf(node).map((position) => ({ position, node })))
    .sort((a, b) => a.position - b.position || (a.node < b.node ? -1 : 1));
  const position = hashPosition(key);
  let start = tokens.findIndex((token) => token.position >= position);
  if (start < 0) start = 0;
  const order: string[] = [];
  for (let step = 0; step < tokens.length; step++) {
    const node = tokens[(start + step) % tokens.length]!.node;
    if (!order.includes(node)) order.push(node);
  }
  return order;
}

describe('preferenceList', () => {
  const ring = new HashRing({ vnodes: 8, nodes: nodeNames(7) });
  const keys = makeKeys(1_500);

  it('returns n distinct nodes in ring order, the key’s owner first', () => {
    // Against a brute-force walk of the token list: few vnodes, so virtual-node repeats are common.
    const wrong = keys.filter((key) => {
      const expected = referenceWalk(ring, key);
      const list = ring.preferenceList(key, 3);
      return list.join() !== expected.slice(0, 3).join() || list[0] !== ring.lookup(key);
    });
    expect(wrong).toEqual([]);
    expect(ring.preferenceList('k', 7).sort()).toEqual(ring.nodes());
  });

  it('walk() yields every node once in ring order, lazily, and agrees with preferenceList', () => {
    for (const key of keys.slice(0, 200)) {
      expect([...ring.walk(key)]).toEqual(referenceWalk(ring, key));
    }
    const iterator = ring.walk('k');
    expect(iterator.next().value).toBe(ring.lookup('k'));
  });

  it('keeps each list stable when a node joins: the newcomer is inserted, the others keep their order', () => {
    // Dynamo's property: adding a node changes a key's replicas only by the new node displacing the last.
    const grown = ring.clone();
    grown.add('node-new');
    const problems = keys.filter((key) => {
      const before = ring.preferenceList(key, 3);
      const after = grown.preferenceList(key, 3);
      const withoutNew = after.filter((node) => node !== 'node-new');
      return withoutNew.join() !== before.slice(0, withoutNew.length).join();
    });
    expect(problems).toEqual([]);
  });

  it('keeps each list stable when a node leaves: it is dropped and the next node appended', () => {
    const shrunk = ring.clone();
    shrunk.remove('node-2');
    const problems = keys.filter((key) => {
      const before = ring.preferenceList(key, 4);
      const after = shrunk.preferenceList(key, 3);
      return (
        after.join() !==
        before
          .filter((node) => node !== 'node-2')
          .slice(0, 3)
          .join()
      );
    });
    expect(problems).toEqual([]);
  });

  it('with skip, returns the first n nodes clockwise that skip does not reject: the next healthy nodes', () => {
    // Sloppy quorum's targets: same as filtering the full walk.
    const down = new Set(['node-1', 'node-4']);
    const wrong = keys.filter((key) => {
      const list = ring.preferenceList(key, 3, { skip: (node) => down.has(node) });
      const expected = referenceWalk(ring, key).filter((node) => !down.has(node));
      return list.join() !== expected.slice(0, 3).join();
    });
    expect(wrong).toEqual([]);
  });

  it('returns fewer than n when skip rejects too many nodes, and none when it rejects all', () => {
    const up = new Set(['node-0', 'node-5']);
    expect(ring.preferenceList('k', 3, { skip: (node) => !up.has(node) }).sort()).toEqual([
      'node-0',
      'node-5',
    ]);
    expect(ring.preferenceList('k', 3, { skip: () => true })).toEqual([]);
  });

  it('stays distinct when the skip callback itself queries the ring', () => {
    // Re-entrancy: the walk's visited marks must not be clobbered by a nested walk.
    const list = ring.preferenceList('k', 5, {
      skip: (node) => ring.preferenceList(`nested-${node}`, 7).length !== 7,
    });
    expect(new Set(list).size).toBe(5);
    expect(list).toEqual(ring.preferenceList('k', 5));
  });

  it('refuses n > nodes (CH_ERR_NOT_ENOUGH_NODES), n < 1 or fractional, and a non-function skip', () => {
    expectCode(() => ring.preferenceList('k', 8), ConsistentHashingErrorCode.NOT_ENOUGH_NODES);
    for (const count of [0, -1, 1.5, Number.NaN]) {
      expectCode(() => ring.preferenceList('k', count), ConsistentHashingErrorCode.INVALID_ARGUMENT);
    }
    expectCode(
      () => ring.preferenceList('k', 2, { skip: 'node-1' as unknown as (node: string) => boolean }),
      ConsistentHashingErrorCode.INVALID_ARGUMENT,
    );
  });

  it('walk() fails loudly if the ring changes while it is being iterated', () => {
    const changing = ring.clone();
    const iterator = changing.walk('k');
    iterator.next();
    changing.add('node-new');
    expectCode(() => iterator.next(), ConsistentHashingErrorCode.CONCURRENT_MODIFICATION);
  });
});

describe('sloppyPreferenceList', () => {
  const ring = new HashRing({ vnodes: 16, nodes: nodeNames(6) });
  const keys = makeKeys(500);

  it('returns the home replicas without hints when all are available', () => {
    for (const key of keys.slice(0, 50)) {
      expect(ring.sloppyPreferenceList(key, 3, () => true)).toEqual(
        ring.preferenceList(key, 3).map((node) => ({ node })),
      );
    }
  });

  it('replaces each unavailable home replica with the next available node, hinted for it', () => {
    // Dynamo's hinted handoff: with a home node down, the first node past the home list holds its data.
    const problems: string[] = [];
    for (const key of keys) {
      const walk = [...ring.walk(key)];
      const down = new Set([walk[0]!, walk[2]!]);
      const result = ring.sloppyPreferenceList(key, 3, (node) => !down.has(node));
      const expected = [
        { node: walk[1]! },
        { node: walk[3]!, hintedFor: walk[0]! },
        { node: walk[4]!, hintedFor: walk[2]! },
      ];
      if (JSON.stringify(result) !== JSON.stringify(expected)) problems.push(key);
    }
    expect(problems).toEqual([]);
  });

  it('skips unavailable stand-ins too, and returns fewer replicas when too few nodes are up', () => {
    const key = 'k';
    const walk = [...ring.walk(key)];
    const down = new Set([walk[1]!, walk[3]!]);
    expect(ring.sloppyPreferenceList(key, 3, (node) => !down.has(node))).toEqual([
      { node: walk[0]! },
      { node: walk[2]! },
      { node: walk[4]!, hintedFor: walk[1]! },
    ]);
    const up = new Set([walk[5]!]);
    expect(ring.sloppyPreferenceList(key, 3, (node) => up.has(node))).toEqual([
      { node: walk[5]!, hintedFor: walk[0]! },
    ]);
  });
});
