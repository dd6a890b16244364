import { randomFillSync } from 'node:crypto';

/**
 * Cryptographic random bytes, drawn from a pooled buffer: one `randomFillSync` per 4 KiB instead
 * of one per id keeps UUID and ULID generation cheap at 10,000 ids per request.
 */
export type RandomSource = (bytes: number) => Uint8Array;

const POOL_BYTES = 4_096;

export function pooledRandom(): RandomSource {
  const pool = new Uint8Array(POOL_BYTES);
  let offset = POOL_BYTES;
  return (bytes) => {
    if (offset + bytes > POOL_BYTES) {
      randomFillSync(pool);
      offset = 0;
    }
    const slice = pool.subarray(offset, offset + bytes);
    offset += bytes;
    return slice;
  };
}
