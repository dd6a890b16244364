import { describe, expect, it } from 'vitest';
import { ConsistentHashingErrorCode, isPrime, Maglev, nextPrime } from '../src/index.js';
import { expectCode, makeKeys, nodeNames, shuffled } from './helpers.js';

describe('Maglev', () => {
  const keys = makeKeys(30_000);

  it('gives every node floor(M/n) or ceil(M/n) slots', () => {
    // The population loop takes turns, so slot counts differ by at most one.
    const maglev = new Maglev({ tableSize: 65_537, nodes: nodeNames(23) });
    const slots = [...maglev.ownership().values()].map((share) => Math.round(share * 65_537));
    expect(slots.reduce((sum, count) => sum + count, 0)).toBe(65_537);
    expect(Math.max(...slots) - Math.min(...slots)).toBeLessThanOrEqual(1);
  });

  it('gives slots proportional to weight (Envoy-style turns)', () => {
    const maglev = new Maglev({
      tableSize: 10_007,
      nodes: [
        { id: 'a', weight: 1 },
        { id: 'b', weight: 3 },
        { id: 'c', weight: 4 },
      ],
    });
    const shares = maglev.ownership();
    expect(shares.get('a')!).toBeCloseTo(1 / 8, 3);
    expect(shares.get('b')!).toBeCloseTo(3 / 8, 3);
    expect(shares.get('c')!).toBeCloseTo(4 / 8, 3);
  });

  it('disrupts little on a join, less the larger the table is per node', () => {
    // Maglev trades exact minimality for balance: some keys move between old nodes, fewer as M/n grows.
    const excess = (tableSize: number): { moved: number; toOld: number } => {
      const maglev = new Maglev({ tableSize, nodes: nodeNames(20) });
      const before = keys.map((key) => maglev.lookup(key));
      maglev.add('node-new');
      const after = keys.map((key) => maglev.lookup(key));
      const ideal = keys.length / 21;
      return {
        moved: after.filter((owner, index) => owner !== before[index]).length / ideal,
        toOld: after.filter((owner, index) => owner !== before[index] && owner !== 'node-new').length / ideal,
      };
    };
    const small = excess(2_003); // 100 slots per node
    const large = excess(65_537); // 3,277 slots per node
    expect(large.moved).toBeGreaterThan(0.9);
    expect(large.moved).toBeLessThan(1.2);
    expect(large.toOld).toBeLessThan(0.15);
    expect(small.toOld).toBeGreaterThan(large.toOld);
  });

  it('builds the same table whatever the insertion order, and restores it when a node leaves and returns', () => {
    const nodes = nodeNames(15);
    const first = new Maglev({ tableSize: 5_003, nodes });
    const second = new Maglev({ tableSize: 5_003, nodes: shuffled(nodes, 3) });
    const sample = keys.slice(0, 5_000);
    const owners = sample.map((key) => first.lookup(key));
    expect(sample.map((key) => second.lookup(key))).toEqual(owners);
    second.remove('node-4');
    second.add('node-4');
    expect(sample.map((key) => second.lookup(key))).toEqual(owners);
  });

  it('refuses a table size that is not prime, too small for the nodes, or out of range', () => {
    expectCode(() => new Maglev({ tableSize: 65_536 }), ConsistentHashingErrorCode.INVALID_ARGUMENT);
    expectCode(() => new Maglev({ tableSize: 1 }), ConsistentHashingErrorCode.INVALID_ARGUMENT);
    expectCode(() => new Maglev({ tableSize: 1.5 }), ConsistentHashingErrorCode.INVALID_ARGUMENT);
    expectCode(
      () => new Maglev({ tableSize: 5, nodes: nodeNames(6) }),
      ConsistentHashingErrorCode.LIMIT_EXCEEDED,
    );
    const small = new Maglev({ tableSize: 3, nodes: ['a', 'b', 'c'] });
    expectCode(() => small.add('d'), ConsistentHashingErrorCode.LIMIT_EXCEEDED);
    expect(small.nodes()).toEqual(['a', 'b', 'c']);
  });

  it('finds primes', () => {
    expect([2, 3, 5, 65_537, 1_000_003].every(isPrime)).toBe(true);
    expect([0, 1, 4, 65_535, 1_000_001].some(isPrime)).toBe(false);
    expect(nextPrime(100_000)).toBe(100_003);
    expect(nextPrime(65_537)).toBe(65_537);
  });
});
