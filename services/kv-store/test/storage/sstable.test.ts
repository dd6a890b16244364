import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Disk } from '../../src/storage/disk.js';
import type { StoredEntry } from '../../src/storage/entry.js';
import { isStorageError, StorageEngine } from '../../src/storage/index.js';
import { BlockCache, FOOTER_BYTES, Table, TableWriter, tableFileName } from '../../src/storage/sstable.js';
import { bytes, pad, testOptions, text, useTempDirs } from './helpers.js';

const temp = useTempDirs();

async function writeTable(
  dir: string,
  entries: StoredEntry[],
  options: { id?: number; blockBytes?: number; bloomFalsePositiveRate?: number; cacheBytes?: number } = {},
): Promise<Table> {
  const disk = new Disk(dir);
  const id = options.id ?? 1;
  const writer = await TableWriter.create(disk, id, {
    blockBytes: options.blockBytes ?? 4096,
    bloomFalsePositiveRate: options.bloomFalsePositiveRate ?? 0.01,
    expectedEntries: entries.length,
    origin: 'flush',
    createdAtMs: 42,
  });
  for (const entry of entries) {
    writer.add(entry);
    if (writer.needsDrain) await writer.drain();
  }
  await writer.finish();
  return Table.open(disk, id, new BlockCache(options.cacheBytes ?? 1024 * 1024));
}

const entriesFor = (count: number, valueBytes = 20): StoredEntry[] =>
  Array.from({ length: count }, (_, index) => ({
    key: `key-${pad(index)}`,
    kind: index % 10 === 3 ? 'tombstone' : 'value',
    value: Buffer.from(`${index}:`.padEnd(valueBytes, 'x')),
    seq: index + 1,
    timestampMs: 1_000 + index,
  }));

describe('SSTable files', () => {
  it('finds every key through the sparse index and misses keys between and beyond them', async () => {
    // 3,000 entries over many 512-byte blocks: each key found, each neighbour of a key not.
    const dir = await temp.dir();
    const entries = entriesFor(3_000);
    const table = await writeTable(dir, entries, { blockBytes: 512 });
    expect(table.meta).toMatchObject({
      entries: 3_000,
      tombstones: 300,
      minSeq: 1,
      maxSeq: 3_000,
      minKey: 'key-000000',
      maxKey: 'key-002999',
      createdAtMs: 42,
    });
    expect(table.blockCount).toBeGreaterThan(100);
    for (const expected of entries) {
      const found = await table.get(expected.key);
      expect(found?.seq).toBe(expected.seq);
      expect(found?.kind).toBe(expected.kind);
      expect(Buffer.from(found!.value).equals(Buffer.from(expected.value))).toBe(true);
      expect(await table.get(`${expected.key}+`)).toBeUndefined();
    }
    expect(await table.get('a')).toBeUndefined();
    expect(await table.get('z')).toBeUndefined();
    table.unref(() => {});
  });

  it('serves ordered ranges from any start key, bounded by end and limit', async () => {
    // Ranges starting inside, between and before blocks against the sorted input.
    const dir = await temp.dir();
    const entries = entriesFor(1_000);
    const table = await writeTable(dir, entries, { blockBytes: 300 });
    const keys = entries.map((entry) => entry.key);
    expect((await table.range('key-000123', 'key-000456', 10_000)).map((entry) => entry.key)).toEqual(
      keys.slice(123, 456),
    );
    expect((await table.range('key-000123+', undefined, 5)).map((entry) => entry.key)).toEqual(
      keys.slice(124, 129),
    );
    expect((await table.range(undefined, undefined, 2_000)).length).toBe(1_000);
    expect(await table.range('key-999', undefined, 5)).toEqual([]);
    table.unref(() => {});
  });

  it('stores values larger than a block in a block of their own', async () => {
    // One 200 KiB value between small ones: the block grows, neighbours stay readable.
    const dir = await temp.dir();
    const entries: StoredEntry[] = [
      { key: 'a', kind: 'value', value: bytes('small'), seq: 1, timestampMs: 1 },
      { key: 'b', kind: 'value', value: Buffer.alloc(200 * 1024, 7), seq: 2, timestampMs: 2 },
      { key: 'c', kind: 'value', value: bytes('small'), seq: 3, timestampMs: 3 },
    ];
    const table = await writeTable(dir, entries, { blockBytes: 1024 });
    expect((await table.get('b'))?.value.byteLength).toBe(200 * 1024);
    expect(text((await table.get('c'))?.value)).toBe('small');
    table.unref(() => {});
  });

  it('round-trips a multi-megabyte table with large values through gets and the read-ahead cursor', async () => {
    // 20,000 entries (~4 MiB, several write chunks) with a 300 KiB value every 5,000: a cursor and gets see every byte.
    const dir = await temp.dir();
    const entries = entriesFor(20_000, 180).map((entry, index) =>
      index % 5_000 === 17 ? { ...entry, value: Buffer.alloc(300 * 1024, index % 251) } : entry,
    );
    const table = await writeTable(dir, entries);
    const cursor = table.cursor(undefined, () => {});
    const seen: StoredEntry[] = [];
    for (let reading = cursor.advance(); ; reading = cursor.advance()) {
      if (reading !== undefined) await reading;
      if (cursor.entry === undefined) break;
      seen.push(cursor.entry);
    }
    expect(seen.length).toBe(entries.length);
    for (const [index, expected] of entries.entries()) {
      const found = seen[index]!;
      expect([found.key, found.seq, found.kind]).toEqual([expected.key, expected.seq, expected.kind]);
      expect(Buffer.from(found.value).equals(Buffer.from(expected.value)), expected.key).toBe(true);
    }
    for (const index of [0, 17, 5_017, 12_345, 19_999]) {
      expect(
        Buffer.from((await table.get(entries[index]!.key))!.value).equals(Buffer.from(entries[index]!.value)),
      ).toBe(true);
    }
    table.unref(() => {});
  });

  it('refuses keys out of order (a caller bug, not a data error)', async () => {
    // The writer asserts strictly increasing keys; a repeated key is out of order too.
    const disk = new Disk(await temp.dir());
    const writer = await TableWriter.create(disk, 1, {
      blockBytes: 4096,
      bloomFalsePositiveRate: 0.01,
      expectedEntries: 2,
      origin: 'flush',
      createdAtMs: 0,
    });
    writer.add({ key: 'b', kind: 'value', value: bytes('1'), seq: 1, timestampMs: 0 });
    expect(() => writer.add({ key: 'b', kind: 'value', value: bytes('2'), seq: 2, timestampMs: 0 })).toThrow(
      /not after/,
    );
    expect(() => writer.add({ key: 'a', kind: 'value', value: bytes('2'), seq: 2, timestampMs: 0 })).toThrow(
      /not after/,
    );
    await writer.abort();
  });
});

describe('SSTable checksums', () => {
  it('detects a corrupted data block on read, naming the file and offset', async () => {
    // Flips one byte in the middle of the first data block; reading a key of that block fails, others still work.
    const dir = await temp.dir();
    const entries = entriesFor(500);
    await writeTable(dir, entries, { blockBytes: 512 }).then((table) => table.unref(() => {}));
    const path = join(dir, tableFileName(1));
    const content = await readFile(path);
    content[100]! ^= 0x01;
    await writeFile(path, content);
    const table = await Table.open(new Disk(dir), 1, new BlockCache(0));
    const error = await table.get('key-000000').catch((caught: unknown) => caught);
    expect(isStorageError(error, 'KV_ERR_CORRUPTION')).toBe(true);
    expect((error as Error).message).toMatch(/block checksum mismatch in sst-000000000001\.sst at byte 0/);
    expect((await table.get('key-000400'))?.seq).toBe(401);
    table.unref(() => {});
  });

  it('refuses to open a table whose footer, index or bloom filter is damaged', async () => {
    // Damages each metadata region in turn; open must fail with KV_ERR_CORRUPTION every time.
    const dir = await temp.dir();
    await writeTable(dir, entriesFor(200), { blockBytes: 512 }).then((table) => table.unref(() => {}));
    const path = join(dir, tableFileName(1));
    const original = await readFile(path);
    const footerStart = original.length - FOOTER_BYTES;
    const indexOffset = original.readUInt32BE(footerStart + 4);
    const bloomOffset = original.readUInt32BE(footerStart + 16);
    for (const offset of [indexOffset + 3, bloomOffset + 20, footerStart + 2, original.length - 1]) {
      const damaged = Buffer.from(original);
      damaged[offset]! ^= 0x40;
      await writeFile(path, damaged);
      const error = await Table.open(new Disk(dir), 1, new BlockCache(0)).catch((caught: unknown) => caught);
      expect(isStorageError(error, 'KV_ERR_CORRUPTION'), `byte ${offset}`).toBe(true);
    }
    await writeFile(path, original.subarray(0, 30));
    const error = await Table.open(new Disk(dir), 1, new BlockCache(0)).catch((caught: unknown) => caught);
    expect(isStorageError(error, 'KV_ERR_CORRUPTION')).toBe(true);
  });

  it('surfaces a corrupted block through the engine as KV_ERR_CORRUPTION, not a wrong answer', async () => {
    // Flushes keys to a table, damages a block on disk, reopens: the get fails loudly.
    const dir = await temp.dir();
    const engine = temp.track(await StorageEngine.open(testOptions(dir, { blockCacheBytes: 0 })));
    for (let index = 0; index < 100; index++) await engine.put(`key-${pad(index)}`, bytes(`value-${index}`));
    await engine.flush();
    const tableId = engine.stats().tables[0]!.id;
    await engine.close();
    const path = join(dir, tableFileName(tableId));
    const content = await readFile(path);
    content[50]! ^= 0x08;
    await writeFile(path, content);
    const reopened = temp.track(await StorageEngine.open(testOptions(dir, { blockCacheBytes: 0 })));
    await expect(reopened.get('key-000001')).rejects.toMatchObject({ code: 'KV_ERR_CORRUPTION' });
    await reopened.close();
  });
});

describe('bloom filters in SSTables', () => {
  for (const configured of [0.1, 0.01, 0.001]) {
    it(`keeps the measured false-positive rate near the configured ${configured}`, async () => {
      // 20,000 keys in a table, 50,000 absent keys probed: the measured rate is within a factor of the configured one.
      const dir = await temp.dir();
      const table = await writeTable(dir, entriesFor(20_000, 8), { bloomFalsePositiveRate: configured });
      let falsePositives = 0;
      const probes = 50_000;
      for (let index = 0; index < probes; index++) {
        if (table.mayContain(Buffer.from(`absent-${index}`))) falsePositives++;
      }
      for (let index = 0; index < 20_000; index += 97)
        expect(table.mayContain(Buffer.from(`key-${pad(index)}`))).toBe(true);
      const measured = falsePositives / probes;
      expect(measured).toBeGreaterThan(configured * 0.5);
      expect(measured).toBeLessThan(configured * 1.5);
      table.unref(() => {});
    });
  }
});
