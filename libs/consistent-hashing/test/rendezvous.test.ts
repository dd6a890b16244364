import { describe, expect, it } from 'vitest';
import { ConsistentHashingErrorCode, Rendezvous } from '../src/index.js';
import { expectCode, makeKeys, nodeNames } from './helpers.js';

function counts(owners: string[]): Map<string, number> {
  const result = new Map<string, number>();
  for (const owner of owners) result.set(owner, (result.get(owner) ?? 0) + 1);
  return result;
}

describe('Rendezvous (highest random weight)', () => {
  const keys = makeKeys(40_000);

  it('spreads keys evenly: every node within 10% of the mean', () => {
    const hrw = new Rendezvous({ nodes: nodeNames(20) });
    const perNode = counts(keys.map((key) => hrw.lookup(key)));
    expect(perNode.size).toBe(20);
    for (const count of perNode.values()) expect(Math.abs(count / 2_000 - 1)).toBeLessThan(0.1);
  });

  it('moves exactly the keys the new node wins on a join, and only the leaver’s keys on a leave', () => {
    const hrw = new Rendezvous({ nodes: nodeNames(10) });
    const before = keys.map((key) => hrw.lookup(key));
    hrw.add('node-new');
    const joined = keys.map((key) => hrw.lookup(key));
    expect(joined.filter((owner, index) => owner !== before[index] && owner !== 'node-new')).toEqual([]);
    const moved = joined.filter((owner, index) => owner !== before[index]).length;
    expect(moved / keys.length).toBeGreaterThan(0.08);
    expect(moved / keys.length).toBeLessThan(0.1);
    hrw.remove('node-new');
    expect(keys.map((key) => hrw.lookup(key))).toEqual(before);
  });

  it('gives shares proportional to weight, and reweighting moves keys only to or from that node', () => {
    // The logarithmic method: P(win) = weight / total weight.
    const hrw = new Rendezvous({
      nodes: [
        { id: 'w1', weight: 1 },
        { id: 'w2', weight: 2 },
        { id: 'w5', weight: 5 },
      ],
    });
    const perNode = counts(keys.map((key) => hrw.lookup(key)));
    expect(perNode.get('w1')! / keys.length).toBeCloseTo(1 / 8, 1);
    expect(perNode.get('w2')! / perNode.get('w1')!).toBeGreaterThan(1.85);
    expect(perNode.get('w2')! / perNode.get('w1')!).toBeLessThan(2.15);
    expect(perNode.get('w5')! / perNode.get('w1')!).toBeGreaterThan(4.6);
    expect(perNode.get('w5')! / perNode.get('w1')!).toBeLessThan(5.4);
    const before = keys.map((key) => hrw.lookup(key));
    hrw.setWeight('w2', 4);
    const after = keys.map((key) => hrw.lookup(key));
    expect(after.filter((owner, index) => owner !== before[index] && owner !== 'w2')).toEqual([]);
  });

  it('answers the same with all weights equal to 3 as with all weights 1 (fast path = general path)', () => {
    const plain = new Rendezvous({ nodes: nodeNames(8) });
    const heavy = new Rendezvous({ nodes: nodeNames(8).map((id) => ({ id, weight: 3 })) });
    const mixed = new Rendezvous({
      nodes: nodeNames(8).map((id, index) => ({ id, weight: index === 0 ? 3 : 3.0000001 })),
    });
    const sample = keys.slice(0, 5_000);
    expect(sample.filter((key) => plain.lookup(key) !== heavy.lookup(key))).toEqual([]);
    // Not identical weights, so the weighted path runs: still almost the same answers.
    expect(sample.filter((key) => plain.lookup(key) !== mixed.lookup(key)).length).toBeLessThan(5);
  });

  it('ranks nodes for a preference list: distinct, best first, the owner at the head', () => {
    const hrw = new Rendezvous({ nodes: nodeNames(6) });
    for (const key of keys.slice(0, 300)) {
      const list = hrw.preferenceList(key, 4);
      expect(new Set(list).size).toBe(4);
      expect(list[0]).toBe(hrw.lookup(key));
    }
    expectCode(() => hrw.preferenceList('k', 7), ConsistentHashingErrorCode.NOT_ENOUGH_NODES);
  });
});
