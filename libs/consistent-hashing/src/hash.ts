/**
 * MurmurHash3 (Austin Appleby, public domain), the x86 32-bit and x86 128-bit variants, over the UTF-8
 * bytes of a string or over raw bytes. Written with 32-bit integer arithmetic only (`Math.imul`), so it
 * is exact in JavaScript and needs no BigInt. Bit for bit the reference `MurmurHash3_x86_32` and
 * `MurmurHash3_x86_128`: the tests check SMHasher's verification values and published vectors.
 *
 * Not for secrets: anyone can compute these hashes and craft keys that collide on purpose.
 */
import { ConsistentHashingErrorCode, fail } from './errors.js';

/** Keys and node ids are hashed as UTF-8 when given as strings. */
export type Key = string | Uint8Array;

/** Positions on the ring are integers in [0, RING_SIZE): 53 bits, exact as JavaScript numbers. */
export const RING_SIZE = 2 ** 53;

const X86_32_C1 = 0xcc9e2d51;
const X86_32_C2 = 0x1b873593;
const X86_128_C1 = 0x239b961b;
const X86_128_C2 = 0xab0e9789;
const X86_128_C3 = 0x38b34ae5;
const X86_128_C4 = 0xa1e38b93;
/** UTF-8 needs at most 3 bytes per UTF-16 code unit (a surrogate pair is 4 bytes for 2 units). */
const UTF8_BYTES_PER_CODE_UNIT_MAX = 3;
const INITIAL_SCRATCH_BYTES = 256;
const TWO_POW_21 = 2 ** 21;

/** Strings are encoded into this reused buffer: hashing a key allocates nothing. */
let scratch = new Uint8Array(INITIAL_SCRATCH_BYTES);
/** The byte length `bytesOf` found: of the scratch buffer's UTF-8 or of the caller's bytes. */
let scratchLength = 0;

/**
 * Writes the UTF-8 encoding of `text` into `scratch` and returns its length. Lone surrogates become
 * U+FFFD, as `TextEncoder` does, so a string hashes the same as `new TextEncoder().encode(string)`.
 */
function encodeUtf8(text: string): number {
  const needed = text.length * UTF8_BYTES_PER_CODE_UNIT_MAX;
  if (needed > scratch.length) scratch = new Uint8Array(Math.max(needed, scratch.length * 2));
  const out = scratch;
  let length = 0;
  for (let index = 0; index < text.length; index++) {
    let code = text.charCodeAt(index);
    if (code < 0x80) {
      out[length++] = code;
      continue;
    }
    if (code < 0x800) {
      out[length++] = 0xc0 | (code >> 6);
      out[length++] = 0x80 | (code & 0x3f);
      continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = index + 1 < text.length ? text.charCodeAt(index + 1) : 0;
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const point = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        index++;
        out[length++] = 0xf0 | (point >> 18);
        out[length++] = 0x80 | ((point >> 12) & 0x3f);
        out[length++] = 0x80 | ((point >> 6) & 0x3f);
        out[length++] = 0x80 | (point & 0x3f);
        continue;
      }
      code = 0xfffd;
    }
    out[length++] = 0xe0 | (code >> 12);
    out[length++] = 0x80 | ((code >> 6) & 0x3f);
    out[length++] = 0x80 | (code & 0x3f);
  }
  return length;
}

/** Either the caller's bytes or the scratch buffer holding the string's UTF-8, and the length to hash. */
function bytesOf(input: Key): Uint8Array {
  if (typeof input === 'string') {
    scratchLength = encodeUtf8(input);
    return scratch;
  }
  if (input instanceof Uint8Array) {
    scratchLength = input.length;
    return input;
  }
  return fail(
    ConsistentHashingErrorCode.INVALID_KEY,
    `a key must be a string or a Uint8Array, got ${describe(input)}`,
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function rotl(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

function fmix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

function readWord(bytes: Uint8Array, offset: number): number {
  return bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24);
}

function murmur32Core(bytes: Uint8Array, length: number, seed: number): number {
  let h = seed | 0;
  const blocksEnd = length - (length & 3);
  for (let offset = 0; offset < blocksEnd; offset += 4) {
    let k = Math.imul(readWord(bytes, offset), X86_32_C1);
    k = Math.imul(rotl(k, 15), X86_32_C2);
    h ^= k;
    h = (Math.imul(rotl(h, 13), 5) + 0xe6546b64) | 0;
  }
  let tail = 0;
  for (let index = length - 1; index >= blocksEnd; index--) tail = (tail << 8) | bytes[index]!;
  if ((length & 3) !== 0) {
    tail = Math.imul(tail, X86_32_C1);
    h ^= Math.imul(rotl(tail, 15), X86_32_C2);
  }
  return fmix32(h ^ length) >>> 0;
}

/** MurmurHash3_x86_32 of the bytes (strings as UTF-8): an unsigned 32-bit integer. */
export function murmur3x86_32(input: Key, seed = 0): number {
  const bytes = bytesOf(input);
  return murmur32Core(bytes, scratchLength, seed);
}

// The four 32-bit words of the last 128-bit hash, kept here so the hot path allocates nothing.
let out1 = 0;
let out2 = 0;
let out3 = 0;
let out4 = 0;

function murmur128Core(bytes: Uint8Array, length: number, seed: number): void {
  let h1 = seed | 0;
  let h2 = seed | 0;
  let h3 = seed | 0;
  let h4 = seed | 0;
  const blocksEnd = length - (length & 15);
  for (let offset = 0; offset < blocksEnd; offset += 16) {
    h1 ^= Math.imul(rotl(Math.imul(readWord(bytes, offset), X86_128_C1), 15), X86_128_C2);
    h1 = (Math.imul((rotl(h1, 19) + h2) | 0, 5) + 0x561ccd1b) | 0;
    h2 ^= Math.imul(rotl(Math.imul(readWord(bytes, offset + 4), X86_128_C2), 16), X86_128_C3);
    h2 = (Math.imul((rotl(h2, 17) + h3) | 0, 5) + 0x0bcaa747) | 0;
    h3 ^= Math.imul(rotl(Math.imul(readWord(bytes, offset + 8), X86_128_C3), 17), X86_128_C4);
    h3 = (Math.imul((rotl(h3, 15) + h4) | 0, 5) + 0x96cd1c35) | 0;
    h4 ^= Math.imul(rotl(Math.imul(readWord(bytes, offset + 12), X86_128_C4), 18), X86_128_C1);
    h4 = (Math.imul((rotl(h4, 13) + h1) | 0, 5) + 0x32ac3b17) | 0;
  }
  const rest = length & 15;
  if (rest > 0) {
    // The tail's bytes, little-endian, in up to four words; then each non-empty word is mixed in.
    let k1 = 0;
    let k2 = 0;
    let k3 = 0;
    let k4 = 0;
    for (let index = rest - 1; index >= 0; index--) {
      const byte = bytes[blocksEnd + index]!;
      const shift = (index & 3) * 8;
      if (index >= 12) k4 |= byte << shift;
      else if (index >= 8) k3 |= byte << shift;
      else if (index >= 4) k2 |= byte << shift;
      else k1 |= byte << shift;
    }
    if (rest > 12) h4 ^= Math.imul(rotl(Math.imul(k4, X86_128_C4), 18), X86_128_C1);
    if (rest > 8) h3 ^= Math.imul(rotl(Math.imul(k3, X86_128_C3), 17), X86_128_C4);
    if (rest > 4) h2 ^= Math.imul(rotl(Math.imul(k2, X86_128_C2), 16), X86_128_C3);
    h1 ^= Math.imul(rotl(Math.imul(k1, X86_128_C1), 15), X86_128_C2);
  }
  h1 ^= length;
  h2 ^= length;
  h3 ^= length;
  h4 ^= length;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix32(h1);
  h2 = fmix32(h2);
  h3 = fmix32(h3);
  h4 = fmix32(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  out1 = h1 >>> 0;
  out2 = (h2 + h1) >>> 0;
  out3 = (h3 + h1) >>> 0;
  out4 = (h4 + h1) >>> 0;
}

/**
 * MurmurHash3_x86_128 of the bytes (strings as UTF-8): four unsigned 32-bit words h1..h4, in the
 * order the reference implementation writes them (little-endian words).
 */
export function murmur3x86_128(input: Key, seed = 0): [number, number, number, number] {
  const bytes = bytesOf(input);
  murmur128Core(bytes, scratchLength, seed);
  return [out1, out2, out3, out4];
}

/**
 * The ring position of a key: the top 53 bits of (h1, h2) of MurmurHash3_x86_128, in [0, RING_SIZE).
 * It leaves h1 and h2 readable through `lastHashHigh()` / `lastHashLow()` until the next hash: the
 * 64-bit key of jump hash and the key half of rendezvous scores, without hashing the key twice.
 */
export function hashPosition(input: Key): number {
  const bytes = bytesOf(input);
  murmur128Core(bytes, scratchLength, 0);
  return out1 * TWO_POW_21 + (out2 >>> 11);
}

export function lastHashHigh(): number {
  return out1;
}

export function lastHashLow(): number {
  return out2;
}

/**
 * MurmurHash3_x86_32 of the 8 bytes `wordA, wordB` (little-endian) with `seed`: a keyed hash of a
 * (key, node) pair for rendezvous scores, without building a combined string.
 */
export function mixPair(wordA: number, wordB: number, seed: number): number {
  let h = seed | 0;
  h ^= Math.imul(rotl(Math.imul(wordA, X86_32_C1), 15), X86_32_C2);
  h = (Math.imul(rotl(h, 13), 5) + 0xe6546b64) | 0;
  h ^= Math.imul(rotl(Math.imul(wordB, X86_32_C1), 15), X86_32_C2);
  h = (Math.imul(rotl(h, 13), 5) + 0xe6546b64) | 0;
  return fmix32(h ^ 8) >>> 0;
}
