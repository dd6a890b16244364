import { describe, expect, it } from 'vitest';
import { BloomFilter, murmur3 } from '../../src/index.js';

describe('murmur3', () => {
  it('matches the reference vectors of MurmurHash3 x86 32', () => {
    // Published test vectors: a wrong rotation or tail case would change them.
    expect(murmur3('', 0)).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('hello', 0)).toBe(0x248bfa47);
    expect(murmur3('Hello, world!', 1234)).toBe(0xfaf6cdb3);
    expect(murmur3('The quick brown fox jumps over the lazy dog', 0)).toBe(0x2e4ff723);
  });
});

describe('BloomFilter', () => {
  it('never says no for a key it holds', () => {
    const filter = BloomFilter.create({ expectedKeys: 10_000, falsePositiveRate: 0.01 });
    for (let index = 0; index < 10_000; index += 1) filter.add(`key-${index}`);
    for (let index = 0; index < 10_000; index += 1) expect(filter.mightContain(`key-${index}`)).toBe(true);
  });

  it.each([0.01, 0.001])('keeps the measured false-positive rate near the configured %s', (rate) => {
    // 100,000 absent keys probed after filling to capacity; allow 50% over the target for variance.
    const filter = BloomFilter.create({ expectedKeys: 20_000, falsePositiveRate: rate });
    for (let index = 0; index < 20_000; index += 1) filter.add(`present-${index}`);
    let falsePositives = 0;
    for (let index = 0; index < 100_000; index += 1)
      if (filter.mightContain(`absent-${index}`)) falsePositives += 1;
    expect(falsePositives / 100_000).toBeLessThan(rate * 1.5);
    expect(filter.expectedFalsePositiveRate).toBeLessThan(rate * 1.1);
  });

  it('round-trips through bytes and rejects corrupt bytes', () => {
    const filter = BloomFilter.create({ expectedKeys: 100, falsePositiveRate: 0.01 });
    filter.add('a');
    const copy = BloomFilter.fromBytes(filter.toBytes());
    expect(copy.mightContain('a')).toBe(true);
    expect(copy.size).toBe(1);
    expect(() => BloomFilter.fromBytes(filter.toBytes().slice(0, 20))).toThrow(/corrupt/);
    expect(() => BloomFilter.create({ expectedKeys: 0, falsePositiveRate: 0.01 })).toThrow(RangeError);
  });
});
