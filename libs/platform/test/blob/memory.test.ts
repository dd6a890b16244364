import { describe, expect, it } from 'vitest';
import { createMemoryBlobStore } from '../../src/blob/index.js';
import { blobStoreContract } from './contract.js';

blobStoreContract('memory', async () => createMemoryBlobStore());

describe('memory BlobStore', () => {
  it('stamps modifiedAt from the injected clock', async () => {
    // Proves the clock is injectable: a fixed now() becomes the blob's modifiedAt.
    const store = createMemoryBlobStore({ now: () => Date.UTC(2030, 0, 1) });
    const info = await store.put('clocked', Buffer.from('x'));
    expect(info.modifiedAt.toISOString()).toBe('2030-01-01T00:00:00.000Z');
    await store.close();
  });

  it('caps a put at the store-wide maxBlobBytes even when the put asks for more', async () => {
    // Proves the store limit bounds every put: maxBytes can only lower it.
    const store = createMemoryBlobStore({ maxBlobBytes: 10 });
    await expect(store.put('big', Buffer.alloc(11), { maxBytes: 1000 })).rejects.toMatchObject({
      code: 'BLOB_ERR_TOO_LARGE',
    });
    await store.close();
  });
});
