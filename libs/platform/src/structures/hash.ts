/**
 * Fast non-cryptographic hashes for data structures (bloom filters, sharding): not for secrets.
 * MurmurHash3 x86 32-bit over UTF-8 bytes, as published by Austin Appleby.
 */

const encoder = new TextEncoder();

export function murmur3(input: string | Uint8Array, seed = 0): number {
  const bytes = typeof input === 'string' ? encoder.encode(input) : input;
  let hash = seed >>> 0;
  const blocks = bytes.length - (bytes.length % 4);
  for (let index = 0; index < blocks; index += 4) {
    let k = bytes[index]! | (bytes[index + 1]! << 8) | (bytes[index + 2]! << 16) | (bytes[index + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    hash ^= k;
    hash = (hash << 13) | (hash >>> 19);
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0;
  }
  const remaining = bytes.length & 3;
  if (remaining > 0) {
    let tail = 0;
    if (remaining === 3) tail ^= bytes[blocks + 2]! << 16;
    if (remaining >= 2) tail ^= bytes[blocks + 1]! << 8;
    tail ^= bytes[blocks]!;
    tail = Math.imul(tail, 0xcc9e2d51);
    tail = (tail << 15) | (tail >>> 17);
    tail = Math.imul(tail, 0x1b873593);
    hash ^= tail;
  }
  hash ^= bytes.length;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
