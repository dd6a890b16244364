import { describe, expect, it } from 'vitest';
import {
  ConsistentHashingError,
  ConsistentHashingErrorCode,
  createPlacement,
  HashRing,
  jumpHash,
  type PlacementOptions,
} from '../src/index.js';
import { expectCode } from './helpers.js';

describe('the edges a new user meets first', () => {
  it('jumpHash refuses a string or fractional key with CH_ERR_INVALID_KEY naming the argument', () => {
    const asString = () => jumpHash('user:1' as unknown as bigint, 10);
    expectCode(asString, ConsistentHashingErrorCode.INVALID_KEY);
    expect(asString).toThrow(/key must be a bigint or a safe integer, got "user:1".*JumpHash class/);
    expectCode(() => jumpHash(1.5, 10), ConsistentHashingErrorCode.INVALID_KEY);
    expectCode(() => jumpHash(2 ** 60, 10), ConsistentHashingErrorCode.INVALID_KEY);
  });

  it('jumpHash takes a safe integer as well as a bigint, with the same answer', () => {
    expect(jumpHash(2201, 100001)).toBe(jumpHash(2201n, 100001));
  });

  it('createPlacement takes nodes in its options, exactly as the constructors do', () => {
    const nodes = ['a', 'b', { id: 'c', weight: 2 }];
    const ring = createPlacement({ algorithm: 'ring', vnodes: 32, nodes });
    const direct = new HashRing({ vnodes: 32, nodes });
    expect(ring.nodes()).toEqual(direct.nodes());
    for (const key of ['k1', 'k2', 'k3']) expect(ring.lookup(key)).toBe(direct.lookup(key));
    expect(createPlacement({ algorithm: 'jump', nodes: ['a', 'b'] }).size).toBe(2);
  });

  it('createPlacement without an options object says what it takes', () => {
    const call = () => createPlacement(undefined as unknown as PlacementOptions);
    expect(call).toThrow(ConsistentHashingError);
    expect(call).toThrow(/\{ algorithm, nodes/);
  });
});
