import { describe, expect, it } from 'vitest';
import {
  ConsistentHashingErrorCode,
  HashRing,
  hashPosition,
  MAX_NODE_ID_LENGTH,
  MAX_TOKENS_PER_NODE,
  type RangeMove,
  RING_SIZE,
  rangeContains,
  rangeWidth,
} from '../src/index.js';
import { mergeTokens } from '../src/ring.js';
import {
  expectCode,
  makeKeys,
  nodeNames,
  rangeIndex,
  shuffled,
  standardDeviationPercent,
} from './helpers.js';

/** A linear-scan ring built from the documented token scheme: the reference the binary search must match. */
function referenceOwner(nodes: { id: string; weight: number }[], vnodes: number, key: string): string {
  const tokens: { position: number; id: string }[] = [];
  for (const node of nodes) {
    const count = Math.round(node.weight * vnodes);
    for (let index = 0; index < count; index++)
      tokens.push({ position: hashPosition(`${node.id}#${index}`), id: node.id });
  }
  const position = hashPosition(key);
  let best: { position: number; id: string } | undefined;
  let lowest: { position: number; id: string } | undefined;
  for (const token of tokens) {
    const before = (a: typeof token, b: typeof token) =>
      a.position < b.position || (a.position === b.position && a.id < b.id);
    if (lowest === undefined || before(token, lowest)) lowest = token;
    if (token.position >= position && (best === undefined || before(token, best))) best = token;
  }
  return (best ?? lowest)!.id;
}

/** Checks that `moves` describe exactly the keys whose owner changed from `before` to `after`. */
function expectMovesExact(keys: string[], before: string[], after: string[], moves: RangeMove[]): number {
  const find = rangeIndex(moves);
  const problems: string[] = [];
  let moved = 0;
  keys.forEach((key, index) => {
    const containing = find(hashPosition(key));
    if (before[index] === after[index]) {
      if (containing !== undefined) problems.push(`${key} did not move but lies in a returned range`);
      return;
    }
    moved++;
    if (containing === undefined) problems.push(`${key} moved but lies in no returned range`);
    else if (containing.from !== before[index] || containing.to !== after[index]) {
      problems.push(
        `${key} moved ${before[index]} -> ${after[index]}, its range says ${containing.from} -> ${containing.to}`,
      );
    }
  });
  expect(problems.slice(0, 5)).toEqual([]);
  return moved;
}

describe('HashRing lookup', () => {
  it('finds the same owner as a linear scan over every token, weights included', () => {
    // The O(log n) binary search and the wrap-around must agree with the definition on 3,000 keys.
    const nodes = [
      { id: 'a', weight: 1 },
      { id: 'b', weight: 2.5 },
      { id: 'c', weight: 0.5 },
      { id: 'd', weight: 1 },
    ];
    const ring = new HashRing({ vnodes: 20, nodes });
    const wrong = makeKeys(3_000).filter((key) => ring.lookup(key) !== referenceOwner(nodes, 20, key));
    expect(wrong).toEqual([]);
  });

  it('gives every node about 1/n of the ring, with the spread shrinking as 1/sqrt(vnodes)', () => {
    // Exact shares from range widths, 50 nodes: ~10% std dev at 100 vnodes, ~3.2% at 1000.
    const nodes = nodeNames(50);
    const at100 = [...new HashRing({ vnodes: 100, nodes }).ownership().values()];
    const at1000 = [...new HashRing({ vnodes: 1000, nodes }).ownership().values()];
    expect(at100.reduce((sum, share) => sum + share, 0)).toBeCloseTo(1, 9);
    expect(standardDeviationPercent(at100)).toBeGreaterThan(5);
    expect(standardDeviationPercent(at100)).toBeLessThan(15);
    expect(standardDeviationPercent(at1000)).toBeGreaterThan(1.5);
    expect(standardDeviationPercent(at1000)).toBeLessThan(5);
    expect(Math.max(...at1000) * 50).toBeLessThan(1.12);
  });

  it('gives nodes shares proportional to their weights', () => {
    // Weights 1..4 at 500 vnodes per unit: each share within 8% of weight / total, keys agree.
    const ring = new HashRing({ vnodes: 500 });
    for (const weight of [1, 2, 3, 4]) ring.add(`w${weight}`, { weight });
    const shares = ring.ownership();
    for (const weight of [1, 2, 3, 4]) {
      expect(shares.get(`w${weight}`)! / (weight / 10)).toBeGreaterThan(0.92);
      expect(shares.get(`w${weight}`)! / (weight / 10)).toBeLessThan(1.08);
    }
    const counts = new Map<string, number>();
    for (const key of makeKeys(40_000)) counts.set(ring.lookup(key), (counts.get(ring.lookup(key)) ?? 0) + 1);
    expect(counts.get('w4')! / counts.get('w1')!).toBeGreaterThan(3.4);
    expect(counts.get('w4')! / counts.get('w1')!).toBeLessThan(4.6);
  });

  it('answers the same on every instance with the same members, whatever the insertion order or history', () => {
    // Tokens depend only on (id, weight) and ties break by id: order and add/remove history do not matter.
    const nodes = nodeNames(12).map((id, index) => ({ id, weight: 1 + (index % 3) }));
    const first = new HashRing({ vnodes: 64, nodes });
    const second = new HashRing({ vnodes: 64, nodes: shuffled(nodes, 7) });
    const third = new HashRing({ vnodes: 64, nodes: shuffled(nodes, 8) });
    third.add('temporary');
    third.remove('temporary');
    const disagreements = makeKeys(5_000).filter((key) => {
      const owner = first.lookup(key);
      return second.lookup(key) !== owner || third.lookup(key) !== owner;
    });
    expect(disagreements).toEqual([]);
    expect(second.replicaRanges(3)).toEqual(first.replicaRanges(3));
  });
});

describe('token ties', () => {
  it('orders tokens at equal positions by node id, whatever order the nodes arrive in', () => {
    // 53-bit collisions are too rare to meet in a test, so the merge is driven with made-up positions:
    // a and c already hold position 20, b arrives with 20 too and must land between them.
    const ids = ['a', 'b', 'c'];
    const existing = {
      positions: new Float64Array([10, 20, 20, 30]),
      owners: new Int32Array([0, 0, 2, 2]),
      ids,
    };
    const merged = mergeTokens(existing, new Float64Array([20, 25]), 1, 'b');
    expect([...merged.positions]).toEqual([10, 20, 20, 20, 25, 30]);
    expect([...merged.owners]).toEqual([0, 0, 1, 2, 1, 2]);
    const tokens = [new Float64Array([5, 20]), new Float64Array([20]), new Float64Array([20, 40])];
    const build = (order: number[]) => {
      let state: { positions: Float64Array; owners: Int32Array; ids: string[] } = {
        positions: new Float64Array(0),
        owners: new Int32Array(0),
        ids,
      };
      for (const slot of order) state = { ...mergeTokens(state, tokens[slot]!, slot, ids[slot]!), ids };
      return [...state.owners];
    };
    expect(build([0, 1, 2])).toEqual([0, 0, 1, 2, 2]);
    expect(build([2, 1, 0])).toEqual(build([0, 1, 2]));
    expect(build([1, 2, 0])).toEqual(build([0, 1, 2]));
  });
});

describe('HashRing add / remove return exactly the ranges that moved', () => {
  const keys = makeKeys(40_000);

  it('add: only keys in the returned ranges move, all to the new node, from the named owner', () => {
    // 40,000 keys looked up before and after: the returned ranges are exactly the moved keys.
    const ring = new HashRing({ vnodes: 50, nodes: nodeNames(10) });
    const before = keys.map((key) => ring.lookup(key));
    const moves = ring.add('node-new');
    const after = keys.map((key) => ring.lookup(key));
    const moved = expectMovesExact(keys, before, after, moves);
    for (const move of moves) expect(move.to).toBe('node-new');
    // About 1/11 of the keys, and the ranges cover the new node's share of the ring.
    expect(moved / keys.length).toBeGreaterThan(0.06);
    expect(moved / keys.length).toBeLessThan(0.12);
    const width = moves.reduce((sum, move) => sum + rangeWidth(move), 0);
    expect(width / RING_SIZE).toBeCloseTo(ring.ownership().get('node-new')!, 9);
  });

  it('remove: only the removed node’s keys move, each to the owner the range names', () => {
    const ring = new HashRing({ vnodes: 50, nodes: nodeNames(10) });
    const before = keys.map((key) => ring.lookup(key));
    const moves = ring.remove('node-4');
    const after = keys.map((key) => ring.lookup(key));
    expectMovesExact(keys, before, after, moves);
    for (const move of moves) expect(move.from).toBe('node-4');
    const strayMoves = keys.filter(
      (_, index) => before[index] !== 'node-4' && after[index] !== before[index],
    );
    expect(strayMoves).toEqual([]);
  });

  it('setWeight: growing a node only moves keys to it, shrinking only away from it', () => {
    // Token i of a node does not depend on its weight, so reweighting is minimal movement too.
    const ring = new HashRing({ vnodes: 40, nodes: nodeNames(8) });
    const before = keys.map((key) => ring.lookup(key));
    const grow = ring.setWeight('node-2', 3);
    const grown = keys.map((key) => ring.lookup(key));
    expectMovesExact(keys, before, grown, grow);
    for (const move of grow) expect(move.to).toBe('node-2');
    const shrink = ring.setWeight('node-2', 0.5);
    const shrunk = keys.map((key) => ring.lookup(key));
    expectMovesExact(keys, grown, shrunk, shrink);
    for (const move of shrink) expect(move.from).toBe('node-2');
    expect(ring.setWeight('node-2', 0.5)).toEqual([]);
  });

  it('returns no moves for the first node added or the last node removed, and the whole ring in between', () => {
    // Edge cases of the range arithmetic: one token covers the whole ring (start === end).
    const ring = new HashRing({ vnodes: 1 });
    expect(ring.add('only')).toEqual([]);
    const moves = ring.add('second');
    expect(moves.length).toBe(1);
    expect(rangeWidth(moves[0]!) / RING_SIZE).toBeCloseTo(ring.ownership().get('second')!, 9);
    const back = ring.remove('second');
    expect(back).toEqual([{ ...moves[0]!, from: 'second', to: 'only' }]);
    expect(ring.replicaRanges()).toEqual([
      { start: ring.tokensOf('only')[0], end: ring.tokensOf('only')[0], replicas: ['only'] },
    ]);
    expect(ring.remove('only')).toEqual([]);
    expect(ring.size).toBe(0);
  });
});

describe('HashRing ranges', () => {
  it('replicaRanges tiles the ring and names each range’s preference list', () => {
    // The widths sum to the ring; each range's list is the preference list of a key inside it.
    const ring = new HashRing({ vnodes: 16, nodes: nodeNames(6) });
    const ranges = ring.replicaRanges(3);
    expect(ranges.reduce((sum, range) => sum + rangeWidth(range), 0)).toBe(RING_SIZE);
    for (const range of ranges) expect(ring.lookupPosition(range.end)).toBe(range.replicas[0]);
    const find = rangeIndex(ranges);
    const wrong = makeKeys(2_000).filter(
      (key) => find(ring.position(key))!.replicas.join() !== ring.preferenceList(key, 3).join(),
    );
    expect(wrong).toEqual([]);
    const owned = ring.rangesOf('node-1');
    const share = owned.reduce((sum, range) => sum + rangeWidth(range), 0) / RING_SIZE;
    expect(share).toBeCloseTo(ring.ownership().get('node-1')!, 9);
  });

  it('diff names every range whose N=3 replica set changed, with what to copy and what to drop', () => {
    // For 20,000 keys: a key lies in a returned range iff its preference list changed, and the range's
    // before/after lists are that key's lists.
    const before = new HashRing({ vnodes: 32, nodes: nodeNames(8) });
    const after = before.clone();
    after.add('node-new');
    after.remove('node-3');
    const changes = HashRing.diff(before, after, { replicas: 3 });
    const find = rangeIndex(changes);
    expect(before.has('node-new')).toBe(false);
    const problems: string[] = [];
    let changedKeys = 0;
    for (const key of makeKeys(20_000)) {
      const listBefore = before.preferenceList(key, 3).join();
      const listAfter = after.preferenceList(key, 3).join();
      const change = find(before.position(key));
      if (listBefore === listAfter) {
        if (change !== undefined) problems.push(`${key}: unchanged but in a returned range`);
        continue;
      }
      changedKeys++;
      if (change === undefined) problems.push(`${key}: changed but in no returned range`);
      else if (change.before.join() !== listBefore || change.after.join() !== listAfter) {
        problems.push(
          `${key}: ${listBefore} -> ${listAfter}, range says ${change.before} -> ${change.after}`,
        );
      }
    }
    expect(problems.slice(0, 5)).toEqual([]);
    // One node in and one out of 8: roughly 2 × 3/8 of the keys see their replica set change.
    expect(changedKeys / 20_000).toBeGreaterThan(0.4);
    for (const change of changes) {
      expect(change.added).toEqual(change.after.filter((node) => !change.before.includes(node)));
      expect(change.removed).toEqual(change.before.filter((node) => !change.after.includes(node)));
    }
  });

  it('rangeContains and rangeWidth handle wrapping ranges', () => {
    const wrapping = { start: RING_SIZE - 10, end: 5 };
    expect(rangeContains(wrapping, 0)).toBe(true);
    expect(rangeContains(wrapping, 5)).toBe(true);
    expect(rangeContains(wrapping, RING_SIZE - 10)).toBe(false);
    expect(rangeContains(wrapping, 6)).toBe(false);
    expect(rangeWidth(wrapping)).toBe(15);
    expect(rangeWidth({ start: 3, end: 3 })).toBe(RING_SIZE);
  });
});

describe('HashRing bad input', () => {
  it('refuses lookups, preference lists and walks on an empty ring with CH_ERR_EMPTY', () => {
    const ring = new HashRing();
    expectCode(() => ring.lookup('k'), ConsistentHashingErrorCode.EMPTY);
    expectCode(() => ring.preferenceList('k', 1), ConsistentHashingErrorCode.EMPTY);
    expectCode(() => ring.lookupPosition(0), ConsistentHashingErrorCode.EMPTY);
    expect([...ring.walk('k')]).toEqual([]);
    expect(ring.replicaRanges()).toEqual([]);
  });

  it('refuses a duplicate node and leaves the ring unchanged', () => {
    const ring = new HashRing({ nodes: ['a', 'b'] });
    const tokens = ring.tokenCount;
    expectCode(() => ring.add('a'), ConsistentHashingErrorCode.DUPLICATE_NODE);
    expectCode(() => new HashRing({ nodes: ['a', 'a'] }), ConsistentHashingErrorCode.DUPLICATE_NODE);
    expect(ring.tokenCount).toBe(tokens);
  });

  it('refuses unknown nodes on remove, setWeight and queries', () => {
    const ring = new HashRing({ nodes: ['a'] });
    expectCode(() => ring.remove('b'), ConsistentHashingErrorCode.UNKNOWN_NODE);
    expectCode(() => ring.setWeight('b', 2), ConsistentHashingErrorCode.UNKNOWN_NODE);
    expectCode(() => ring.rangesOf('b'), ConsistentHashingErrorCode.UNKNOWN_NODE);
    expectCode(() => ring.weightOf('b'), ConsistentHashingErrorCode.UNKNOWN_NODE);
  });

  it('refuses weights that are zero, negative, not finite, not numbers, or too small for one token', () => {
    const ring = new HashRing({ vnodes: 100, nodes: ['a'] });
    for (const weight of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '2' as unknown as number, 1e9]) {
      expectCode(() => ring.add('b', { weight }), ConsistentHashingErrorCode.INVALID_WEIGHT);
      expectCode(() => ring.setWeight('a', weight), ConsistentHashingErrorCode.INVALID_WEIGHT);
    }
    expectCode(() => ring.add('b', { weight: 0.004 }), ConsistentHashingErrorCode.INVALID_WEIGHT);
    expectCode(
      () => ring.add('b', { weight: MAX_TOKENS_PER_NODE / 100 + 1 }),
      ConsistentHashingErrorCode.INVALID_WEIGHT,
    );
    expect(ring.nodes()).toEqual(['a']);
    expect(ring.weightOf('a')).toBe(1);
  });

  it('refuses node ids that are empty, too long or not strings', () => {
    const ring = new HashRing();
    for (const id of ['', 'x'.repeat(MAX_NODE_ID_LENGTH + 1), 7, null, undefined, {}]) {
      expectCode(() => ring.add(id as string), ConsistentHashingErrorCode.INVALID_NODE);
    }
    ring.add('x'.repeat(MAX_NODE_ID_LENGTH));
    expect(ring.size).toBe(1);
  });

  it('refuses vnodes that are not integers in [1, MAX_TOKENS_PER_NODE]', () => {
    for (const vnodes of [0, -5, 1.5, MAX_TOKENS_PER_NODE + 1, Number.NaN]) {
      expectCode(() => new HashRing({ vnodes }), ConsistentHashingErrorCode.INVALID_ARGUMENT);
    }
  });

  it('keeps clones independent of each other', () => {
    const ring = new HashRing({ vnodes: 8, nodes: ['a', 'b'] });
    const copy = ring.clone();
    copy.add('c');
    ring.remove('a');
    expect(ring.nodes()).toEqual(['b']);
    expect(copy.nodes()).toEqual(['a', 'b', 'c']);
    expect(new Set(makeKeys(200).map((key) => copy.lookup(key)))).toEqual(new Set(['a', 'b', 'c']));
  });
});
