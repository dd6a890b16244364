import { seededRandom } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import { ConsistentHashingErrorCode, JumpHash, jumpBucket, jumpHash } from '../src/index.js';
import { expectCode, makeKeys, nodeNames } from './helpers.js';

/** The paper's C code, transcribed with BigInt: the reference the 32-bit version must equal. */
function referenceJump(key: bigint, buckets: number): number {
  let state = BigInt.asUintN(64, key);
  let bucket = -1n;
  let next = 0n;
  while (next < BigInt(buckets)) {
    bucket = next;
    state = BigInt.asUintN(64, state * 2862933555777941757n + 1n);
    next = BigInt(Math.floor(Number(bucket + 1n) * (2 ** 31 / Number((state >> 33n) + 1n))));
  }
  return Number(bucket);
}

describe('jump consistent hash', () => {
  it("matches Guava's cross-language golden values", () => {
    // Hashing.consistentHash's compatibility test: the same numbers as the paper's C++ and Go ports.
    const golden100 = [0, 55, 62, 8, 45, 59, 86, 97, 82, 59, 73, 37, 17, 56, 86, 21, 90, 37, 38, 83];
    expect(golden100.map((_, key) => jumpHash(BigInt(key), 100))).toEqual(golden100);
    expect(jumpHash(10863919174838991n, 11)).toBe(6);
    expect(jumpHash(2016238256797177309n, 11)).toBe(3);
    expect(jumpHash(1673758223894951030n, 11)).toBe(5);
    expect(jumpHash(2n, 100001)).toBe(80343);
    expect(jumpHash(2201n, 100001)).toBe(22152);
    expect(jumpHash(2202n, 100001)).toBe(15018);
  });

  it('equals a BigInt transcription of the paper on 3,000 random 64-bit keys', () => {
    // The two-halves 64-bit multiply must carry exactly; random keys cover high bits and carries.
    const random = seededRandom(1);
    for (let sample = 0; sample < 3_000; sample++) {
      const high = Math.floor(random() * 2 ** 32);
      const low = Math.floor(random() * 2 ** 32);
      const buckets = 1 + Math.floor(random() * 5_000);
      const key = (BigInt(high) << 32n) | BigInt(low);
      expect(jumpBucket(high, low, buckets)).toBe(referenceJump(key, buckets));
    }
    expect(jumpHash(-1n, 1000)).toBe(referenceJump(2n ** 64n - 1n, 1000));
  });

  it('carries into the high word when the low word of key × multiplier + 1 wraps to zero', () => {
    // A 2^-32 event random keys never hit: pick the low word whose product with the multiplier's low
    // word is 0xffffffff, so adding 1 carries on the very first step.
    const modulus = 2n ** 32n;
    const multiplierLow = 2862933555777941757n % modulus;
    let inverse = 1n;
    for (let bit = 0; bit < 32; bit++) inverse = (inverse * (2n - multiplierLow * inverse)) % modulus;
    inverse = ((inverse % modulus) + modulus) % modulus;
    const low = Number((0xffffffffn * inverse) % modulus);
    expect((BigInt(low) * multiplierLow) % modulus).toBe(0xffffffffn);
    for (const high of [0, 1, 2, 3, 0x7fffffff, 0xfffffffe, 0xffffffff]) {
      const key = (BigInt(high) << 32n) | BigInt(low);
      for (const buckets of [1_000, 2 ** 31 - 1])
        expect(jumpBucket(high, low, buckets)).toBe(referenceJump(key, buckets));
    }
  });

  it('moves a key only to the new bucket when buckets grow from n to n + 1', () => {
    // The defining property: jump(k, n + 1) is jump(k, n) or n, for every key and n.
    const random = seededRandom(2);
    for (let sample = 0; sample < 500; sample++) {
      const high = Math.floor(random() * 2 ** 32);
      const low = Math.floor(random() * 2 ** 32);
      let previous = 0;
      for (let buckets = 2; buckets <= 60; buckets++) {
        const bucket = jumpBucket(high, low, buckets);
        expect(bucket === previous || bucket === buckets - 1).toBe(true);
        previous = bucket;
      }
    }
  });

  it('rejects bucket counts outside [1, 2^31 - 1]', () => {
    for (const buckets of [0, -1, 1.5, Number.NaN, 2 ** 31]) {
      expectCode(() => jumpBucket(1, 2, buckets), ConsistentHashingErrorCode.INVALID_ARGUMENT);
    }
  });

  it('removing the last-added node moves only its keys; removing another also reshuffles the last one', () => {
    // Buckets are numbered: the last node is cheap to remove, any other swaps the last into its bucket.
    const keys = makeKeys(20_000);
    const nodes = nodeNames(10);
    const jump = new JumpHash({ nodes });
    const before = keys.map((key) => jump.lookup(key));
    jump.remove('node-9');
    keys.forEach((key, index) => {
      if (before[index] !== 'node-9') expect(jump.lookup(key)).toBe(before[index]);
    });
    const middle = new JumpHash({ nodes });
    middle.remove('node-3');
    expect(middle.nodes()[3]).toBe('node-9');
    let moved = 0;
    keys.forEach((key, index) => {
      const owner = middle.lookup(key);
      if (owner !== before[index]) {
        moved++;
        expect(['node-3', 'node-9']).toContain(before[index]);
      }
    });
    // node-3's keys (1/10) must move; most of node-9's (another ~1/10) move too.
    expect(moved / keys.length).toBeGreaterThan(0.15);
  });

  it('has no weights: weight 1 is accepted, others are refused', () => {
    const jump = new JumpHash();
    jump.add('a', { weight: 1 });
    expectCode(() => jump.add('b', { weight: 2 }), ConsistentHashingErrorCode.UNSUPPORTED);
    expectCode(() => jump.add('b', { weight: 0 }), ConsistentHashingErrorCode.INVALID_WEIGHT);
    expect(jump.size).toBe(1);
  });
});
