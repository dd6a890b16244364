import { randomBytes } from 'node:crypto';
import { readdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@sysdesign/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type BlobStore, createFsBlobStore } from '../../src/blob/index.js';
import { blobStoreContract, streamOf } from './contract.js';

const freshDir = () => tempDir('blob-fs-');

blobStoreContract('filesystem', async () => createFsBlobStore({ dir: await freshDir() }));

describe('filesystem BlobStore', () => {
  const open: BlobStore[] = [];
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
  });
  const openStore = async (dir: string) => {
    const store = await createFsBlobStore({ dir });
    open.push(store);
    return store;
  };

  it('removes a temp file left by a crash when it opens, and never lists one', async () => {
    // Proves crash recovery: a half-written temp file (as a killed put leaves it) is invisible to
    // list while present and gone after the next open; published blobs survive the reopen.
    const dir = await freshDir();
    const first = await openStore(dir);
    await first.put('kept/blob', Buffer.from('published'));
    await writeFile(join(dir, 'tmp', 'crashed-put.tmp'), randomBytes(5000));
    expect((await first.list()).items.map((item) => item.key)).toEqual(['kept/blob']);
    await first.close();

    const second = await openStore(dir);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    expect((await second.list()).items.map((item) => item.key)).toEqual(['kept/blob']);
    expect((await second.stat('kept/blob'))?.size).toBe(9);
  });

  it('leaves no temp file behind after a successful, an oversized or a failed put', async () => {
    // Proves every put path cleans its temp file: tmp/ is empty after each outcome.
    const dir = await freshDir();
    const store = await openStore(dir);
    await store.put('ok', streamOf(randomBytes(100_000)));
    await expect(
      store.put('big', streamOf(randomBytes(10_000), 1000), { maxBytes: 5000 }),
    ).rejects.toMatchObject({
      code: 'BLOB_ERR_TOO_LARGE',
    });
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('refuses a second open of one directory in the same process until the first closes', async () => {
    // Proves the single-owner guard: a second store would wipe the first one's puts in flight.
    const dir = await freshDir();
    const first = await openStore(dir);
    await expect(createFsBlobStore({ dir })).rejects.toThrow(/already open/);
    await first.close();
    await openStore(dir);
  });

  it('removes directories emptied by a delete', async () => {
    // Proves deletes do not leak directories: deleting the only blob under deep/a/b leaves objects/ empty.
    const dir = await freshDir();
    const store = await openStore(dir);
    await store.put('deep/a/b/blob', Buffer.from('x'));
    await store.delete('deep/a/b/blob');
    expect(await readdir(join(dir, 'objects'))).toEqual([]);
  });

  it('fails loudly on a corrupted blob file instead of serving wrong metadata', async () => {
    // Proves the trailer is checked: a truncated file is an operating error, not a silent misread.
    const dir = await freshDir();
    const store = await openStore(dir);
    await store.put('fragile', Buffer.from('some content'));
    await truncate(join(dir, 'objects', 'fragile~blob'), 5);
    await expect(store.stat('fragile')).rejects.toThrow(/corrupt/);
  });
});
