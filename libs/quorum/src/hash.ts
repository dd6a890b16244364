/**
 * Non-cryptographic hashes for Merkle trees and version digests. Anti-entropy compares replicas
 * that trust each other, so collision resistance against an attacker is not the goal; speed,
 * spread and having no dependency are. Values are kept below 2^52 so that sums of two stay exact
 * doubles and they travel as plain JSON numbers.
 */

export const HASH_MODULUS = 2 ** 52;

/** A 52-bit hash of a string (cyrb53, truncated): two 32-bit murmur-style lanes. */
export function hash52(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4_294_967_296 * (h2 & 0xfffff) + (h1 >>> 0);
}

/** A 32-bit hash of a string, used as the key's token (its position in the Merkle tree). */
export function hash32(text: string): number {
  return hash52(text, 0x9747b28c) % 4_294_967_296;
}

/** Hash of two hashes, for inner Merkle nodes. */
export function combineHashes(left: number, right: number): number {
  return hash52(`${left}.${right}`);
}

/** `(a + b) mod 2^52`, and its inverse: leaf hashes are sums, so one key updates a leaf in O(1). */
export function addHashes(a: number, b: number): number {
  return (a + b) % HASH_MODULUS;
}

export function subtractHashes(a: number, b: number): number {
  return (a - b + HASH_MODULUS) % HASH_MODULUS;
}
