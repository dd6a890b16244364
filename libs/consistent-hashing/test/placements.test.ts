import { describe, expect, it } from 'vitest';
import { measureBalance, measureJoin } from '../src/harness.js';
import {
  ALGORITHMS,
  ConsistentHashingErrorCode,
  createPlacement,
  type PlacementOptions,
} from '../src/index.js';
import { expectCode, makeKeys, nodeNames, shuffled } from './helpers.js';

/** Every algorithm with settings that balance well at 20 nodes. */
const configurations: PlacementOptions[] = [
  { algorithm: 'ring', vnodes: 500 },
  { algorithm: 'jump' },
  { algorithm: 'rendezvous' },
  { algorithm: 'maglev' },
  { algorithm: 'bounded-load', vnodes: 100, epsilon: 0.1 },
  { algorithm: 'modulo' },
];
/** Answers depend only on the set of nodes, not on the order they were added in. */
const orderFree = new Set(['ring', 'rendezvous', 'maglev', 'bounded-load']);
const weighted = new Set(['ring', 'rendezvous', 'maglev', 'bounded-load']);

describe.each(configurations)('the Placement contract: $algorithm', (options) => {
  const keys = makeKeys(20_000);

  it('spreads 20,000 keys over 20 nodes with every node within 20% of the mean', () => {
    const report = measureBalance(createPlacement({ ...options, nodes: nodeNames(20) }), keys);
    expect(report.nodes).toBe(20);
    expect(report.maxOverMean).toBeLessThan(1.2);
    expect(report.minOverMean).toBeGreaterThan(0.8);
  });

  it('moves about k/(n+1) keys when the (n+1)th node joins (modulo: almost all)', () => {
    const report = measureJoin(createPlacement({ ...options, nodes: nodeNames(20) }), keys, 'node-new');
    if (options.algorithm === 'modulo') {
      expect(report.movedFraction).toBeGreaterThan(0.9);
      return;
    }
    expect(report.movedOverIdeal).toBeGreaterThan(0.8);
    expect(report.movedOverIdeal).toBeLessThan(options.algorithm === 'bounded-load' ? 2 : 1.25);
    if (options.algorithm === 'ring' || options.algorithm === 'jump' || options.algorithm === 'rendezvous') {
      expect(report.movedBetweenOldNodes).toBe(0);
    }
  });

  it('gives the same answers on a second instance with the same nodes', () => {
    // Order-free algorithms get the nodes shuffled; jump and modulo number nodes in insertion order.
    const nodes = nodeNames(12);
    const first = createPlacement({ ...options, nodes });
    const second = createPlacement({
      ...options,
      nodes: orderFree.has(options.algorithm) ? shuffled(nodes, 5) : nodes,
    });
    const sample = keys.slice(0, 3_000);
    expect(sample.filter((key) => first.lookup(key) !== second.lookup(key))).toEqual([]);
  });

  it('sends every key to the only node, and refuses lookups with none', () => {
    const placement = createPlacement(options);
    expectCode(() => placement.lookup('k'), ConsistentHashingErrorCode.EMPTY);
    placement.add('solo');
    expect(new Set(keys.slice(0, 500).map((key) => placement.lookup(key)))).toEqual(new Set(['solo']));
    placement.remove('solo');
    expectCode(() => placement.lookup('k'), ConsistentHashingErrorCode.EMPTY);
  });

  it('refuses duplicate nodes, unknown nodes, bad ids, bad weights and bad keys', () => {
    const placement = createPlacement({ ...options, nodes: ['a', 'b'] });
    expectCode(() => placement.add('a'), ConsistentHashingErrorCode.DUPLICATE_NODE);
    expectCode(() => placement.remove('zz'), ConsistentHashingErrorCode.UNKNOWN_NODE);
    for (const id of ['', 5, null])
      expectCode(() => placement.add(id as string), ConsistentHashingErrorCode.INVALID_NODE);
    for (const weight of [0, -2, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectCode(() => placement.add('c', { weight }), ConsistentHashingErrorCode.INVALID_WEIGHT);
    }
    if (weighted.has(options.algorithm)) placement.add('c', { weight: 2 });
    else expectCode(() => placement.add('c', { weight: 2 }), ConsistentHashingErrorCode.UNSUPPORTED);
    for (const key of [1, null, undefined, {}]) {
      expectCode(() => placement.lookup(key as unknown as string), ConsistentHashingErrorCode.INVALID_KEY);
    }
    expect(placement.nodes().sort()).toEqual(weighted.has(options.algorithm) ? ['a', 'b', 'c'] : ['a', 'b']);
  });

  it('takes bytes keys: a Uint8Array hashes like the string it encodes', () => {
    const placement = createPlacement({ ...options, nodes: nodeNames(7) });
    const encoder = new TextEncoder();
    const sample = keys.slice(0, 500);
    expect(sample.filter((key) => placement.lookup(encoder.encode(key)) !== placement.lookup(key))).toEqual(
      [],
    );
  });
});

describe('createPlacement', () => {
  it('builds every algorithm it lists and refuses an unknown one', () => {
    for (const algorithm of ALGORITHMS) {
      expect(createPlacement({ algorithm } as PlacementOptions).algorithm).toBe(algorithm);
    }
    expectCode(
      () => createPlacement({ algorithm: 'md5' } as unknown as PlacementOptions),
      ConsistentHashingErrorCode.INVALID_ARGUMENT,
    );
  });
});
