import { describe, expect, it } from 'vitest';
import { BloomFilter } from '../../src/index.js';

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

  it('sets the same bits as the filters already on disk (the hashes are part of the format)', () => {
    // Bytes written by the platform's former murmur3: a filter loaded from them answers as before,
    // and the same keys added today produce them bit for bit.
    const written =
      '00000180000000070000002af87f92e0f7edff8da91a4fc334aec639154349f5a8853a6877c3c99a2897305c4e85f2b9d7aca197c620d62117b5607f';
    const keys: (string | Uint8Array)[] = Array.from({ length: 40 }, (_, index) => `key-${index}`);
    keys.push(new Uint8Array([0, 1, 2, 3, 4, 5, 6]), 'ключ 🔑');
    const loaded = BloomFilter.fromBytes(Buffer.from(written, 'hex'));
    for (const key of keys) expect(loaded.mightContain(key)).toBe(true);
    const rebuilt = BloomFilter.create({ expectedKeys: 40, falsePositiveRate: 0.01 });
    for (const key of keys) rebuilt.add(key);
    expect(Buffer.from(rebuilt.toBytes()).toString('hex')).toBe(written);
  });
});
