import { murmur3x86_32 } from '@sysdesign/consistent-hashing';

/**
 * A bloom filter: "definitely not present" or "probably present" in a few bits per key. Sized
 * from the expected number of keys n and the false-positive rate p you accept:
 * m = -n ln p / (ln 2)^2 bits and k = (m / n) ln 2 hash functions, with the k positions derived
 * from two MurmurHash3 x86 32-bit hashes (Kirsch and Mitzenmacher's double hashing), taken from
 * consistent-hashing, whose copy is checked against SMHasher's values. It serialises to bytes, so
 * an SSTable can store it beside its index; the hashes are part of that format.
 */

const HEADER_BYTES = 12;
/** 512 MiB of bits: larger filters are a sign of a sizing mistake. */
const MAX_BITS = 2 ** 32;

export interface BloomSizing {
  expectedKeys: number;
  falsePositiveRate: number;
}

export class BloomFilter {
  private constructor(
    private readonly bits: Uint8Array,
    readonly bitCount: number,
    readonly hashCount: number,
    private added: number,
  ) {}

  static create({ expectedKeys, falsePositiveRate }: BloomSizing): BloomFilter {
    if (!Number.isInteger(expectedKeys) || expectedKeys < 1)
      throw new RangeError('expectedKeys must be a positive integer');
    if (!(falsePositiveRate > 0 && falsePositiveRate < 1))
      throw new RangeError('falsePositiveRate must be in (0, 1)');
    const bitCount = Math.min(
      MAX_BITS,
      Math.max(8, Math.ceil((-expectedKeys * Math.log(falsePositiveRate)) / Math.LN2 ** 2)),
    );
    const hashCount = Math.max(1, Math.round((bitCount / expectedKeys) * Math.LN2));
    return new BloomFilter(new Uint8Array(Math.ceil(bitCount / 8)), bitCount, hashCount, 0);
  }

  /** Reads a filter written by `toBytes()`. */
  static fromBytes(bytes: Uint8Array): BloomFilter {
    if (bytes.length < HEADER_BYTES) throw new RangeError('bloom filter bytes too short');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const bitCount = view.getUint32(0);
    const hashCount = view.getUint32(4);
    const added = view.getUint32(8);
    const bits = bytes.slice(HEADER_BYTES);
    if (bitCount === 0 || hashCount === 0 || bits.length !== Math.ceil(bitCount / 8)) {
      throw new RangeError('bloom filter bytes are corrupt');
    }
    return new BloomFilter(bits, bitCount, hashCount, added);
  }

  add(key: string | Uint8Array): void {
    const first = murmur3x86_32(key, 0);
    const second = murmur3x86_32(key, first) | 1;
    for (let index = 0; index < this.hashCount; index += 1) {
      const bit = (first + Math.imul(index, second)) >>> 0;
      const position = bit % this.bitCount;
      this.bits[position >>> 3]! |= 1 << (position & 7);
    }
    this.added += 1;
  }

  /** False means the key was never added; true means it probably was. */
  mightContain(key: string | Uint8Array): boolean {
    const first = murmur3x86_32(key, 0);
    const second = murmur3x86_32(key, first) | 1;
    for (let index = 0; index < this.hashCount; index += 1) {
      const bit = (first + Math.imul(index, second)) >>> 0;
      const position = bit % this.bitCount;
      if ((this.bits[position >>> 3]! & (1 << (position & 7))) === 0) return false;
    }
    return true;
  }

  /** Keys added so far (counting repeats). */
  get size(): number {
    return this.added;
  }

  /** The false-positive rate to expect now: (1 - e^(-k n / m))^k. */
  get expectedFalsePositiveRate(): number {
    return (1 - Math.exp((-this.hashCount * this.added) / this.bitCount)) ** this.hashCount;
  }

  toBytes(): Uint8Array {
    const bytes = new Uint8Array(HEADER_BYTES + this.bits.length);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, this.bitCount);
    view.setUint32(4, this.hashCount);
    view.setUint32(8, this.added);
    bytes.set(this.bits, HEADER_BYTES);
    return bytes;
  }
}
