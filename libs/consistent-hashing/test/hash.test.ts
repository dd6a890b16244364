import { describe, expect, it } from 'vitest';
import { mixPair } from '../src/hash.js';
import {
  ConsistentHashingErrorCode,
  hashPosition,
  murmur3x86_32,
  murmur3x86_128,
  RING_SIZE,
} from '../src/index.js';
import { expectCode, makeKeys } from './helpers.js';

/**
 * SMHasher's VerificationTest: hash the keys {}, {0}, {0,1}, ... {0..254} with seed 256 - length,
 * concatenate the little-endian digests, hash that with seed 0, and read the first 32-bit word.
 */
function smhasherVerification(bits: 32 | 128): number {
  const digestBytes = bits / 8;
  const key = new Uint8Array(256);
  const digests = new Uint8Array(digestBytes * 256);
  const view = new DataView(digests.buffer);
  for (let length = 0; length < 256; length++) {
    key[length] = length;
    const input = key.subarray(0, length);
    if (bits === 32) view.setUint32(length * 4, murmur3x86_32(input, 256 - length), true);
    else {
      murmur3x86_128(input, 256 - length).forEach((word, index) => {
        view.setUint32(length * 16 + index * 4, word, true);
      });
    }
  }
  return bits === 32 ? murmur3x86_32(digests, 0) : murmur3x86_128(digests, 0)[0];
}

function hex128(words: number[]): string {
  return words.map((word) => word.toString(16).padStart(8, '0')).join('');
}

describe('MurmurHash3 x86', () => {
  it('matches SMHasher verification values for x86_32 (0xB0F57EE3) and x86_128 (0xB3ECE62A)', () => {
    // The reference implementation's self-test over 256 keys of every length 0..255 and 256 seeds.
    expect(smhasherVerification(32)).toBe(0xb0f57ee3);
    expect(smhasherVerification(128)).toBe(0xb3ece62a);
  });

  it('matches published x86_32 vectors, with seeds and UTF-8 input', () => {
    // Vectors shared by many implementations (seed 0 and 0x9747b28c, ASCII and multi-byte characters).
    const vectors: [string, number, number][] = [
      ['', 0, 0],
      ['', 1, 0x514e28b7],
      ['', 0xffffffff, 0x81f16f39],
      ['test', 0, 0xba6bd213],
      ['test', 0x9747b28c, 0x704b81dc],
      ['Hello, world!', 0, 0xc0363e43],
      ['Hello, world!', 0x9747b28c, 0x24884cba],
      ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
      ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
      ['special characters açb↓c', 0, 0xbe83b140],
    ];
    for (const [input, seed, expected] of vectors) expect(murmur3x86_32(input, seed), input).toBe(expected);
  });

  it('matches published x86_128 vectors', () => {
    // Tail lengths 1, 5 and 12, seed 0.
    expect(hex128(murmur3x86_128('H'))).toBe('f69feb5df45637a0f45637a0f45637a0');
    expect(hex128(murmur3x86_128('Hello'))).toBe('2360ae465e6336c6ad45b3f4ad45b3f4');
    expect(hex128(murmur3x86_128('Hello World!'))).toBe('6bee9883eb1be4f59dfb7172ae3fbea9');
    expect(hex128(murmur3x86_128(''))).toBe('0'.repeat(32));
  });

  it('hashes a string exactly as its TextEncoder bytes, surrogate pairs and lone surrogates included', () => {
    // The hand-written UTF-8 encoder must agree with the platform's on every kind of code unit.
    const encoder = new TextEncoder();
    const inputs = [
      '',
      'ascii',
      'é',
      '€',
      'メロス',
      '😀 emoji',
      'a\ud800b',
      '\udc00',
      'x'.repeat(1000) + '€',
    ];
    for (const input of inputs) {
      expect(murmur3x86_32(input, 7)).toBe(murmur3x86_32(encoder.encode(input), 7));
      expect(murmur3x86_128(input, 7)).toEqual(murmur3x86_128(encoder.encode(input), 7));
    }
  });

  it('puts positions in [0, 2^53) as integers, spread over the whole ring', () => {
    // 10,000 keys: every position is a safe integer in range, and each eighth of the ring gets ~1/8.
    const eighths = new Array<number>(8).fill(0);
    for (const key of makeKeys(10_000)) {
      const position = hashPosition(key);
      expect(Number.isSafeInteger(position) && position >= 0 && position < RING_SIZE).toBe(true);
      eighths[Math.floor(position / (RING_SIZE / 8))]!++;
    }
    for (const count of eighths) expect(count).toBeGreaterThan(1_150);
  });

  it('mixes a (key, node) pair exactly as MurmurHash3_x86_32 of its 8 little-endian bytes', () => {
    // The rendezvous score hash is a real keyed murmur hash, not an ad-hoc mixer.
    const bytes = new Uint8Array(8);
    const view = new DataView(bytes.buffer);
    for (const [a, b, seed] of [
      [0, 0, 0],
      [0xdeadbeef, 0x12345678, 42],
      [0xffffffff, 1, 0x9747b28c],
    ] as const) {
      view.setUint32(0, a, true);
      view.setUint32(4, b, true);
      expect(mixPair(a, b, seed)).toBe(murmur3x86_32(bytes, seed));
    }
  });

  it('rejects keys that are neither strings nor bytes', () => {
    // A number or null key is a caller bug: a typed error, not a hash of "undefined".
    for (const key of [42, null, undefined, {}, ['a']]) {
      expectCode(() => hashPosition(key as unknown as string), ConsistentHashingErrorCode.INVALID_KEY);
    }
  });
});
