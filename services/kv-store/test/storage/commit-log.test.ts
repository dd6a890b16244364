import { readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  encodeRecords,
  LOG_RECORD_FIXED_BYTES,
  LOG_RECORD_PREFIX_BYTES,
  LogSegment,
  replaySegment,
} from '../../src/storage/commit-log.js';
import { Disk } from '../../src/storage/disk.js';
import { crc32, encodeKey, type StoredEntry } from '../../src/storage/entry.js';
import { isStorageError, StorageEngine } from '../../src/storage/index.js';
import { bytes, testOptions, text, useTempDirs } from './helpers.js';

const temp = useTempDirs();

function record(key: string, value: string, seq: number): { entry: StoredEntry; keyBytes: Buffer } {
  return {
    entry: { key, kind: 'value', value: bytes(value), seq, timestampMs: 1_000 + seq },
    keyBytes: encodeKey(key),
  };
}

async function writeSegment(dir: string, records: ReturnType<typeof record>[]): Promise<string> {
  const segment = await LogSegment.create(new Disk(dir), 1);
  await segment.append(encodeRecords(records));
  await segment.sync();
  await segment.close();
  return segment.path;
}

async function replay(dir: string, path: string): Promise<{ entries: StoredEntry[]; corruptAt?: number }> {
  const entries: StoredEntry[] = [];
  const result = await replaySegment(new Disk(dir), path, (entry) => entries.push(entry));
  return { entries, ...(result.corruptAt === undefined ? {} : { corruptAt: result.corruptAt }) };
}

describe('CRC-32', () => {
  it('is the standard IEEE CRC-32 (check value of "123456789" is 0xCBF43926)', () => {
    // The published check value pins the polynomial, reflection and final xor.
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('commit log records', () => {
  it('replays every record of a segment in order, byte for byte', async () => {
    // Writes three records (one with an empty value and a multi-byte key) and reads them back.
    const dir = await temp.dir();
    const path = await writeSegment(dir, [
      record('a', 'first', 1),
      record('é🔑', '', 2),
      record('c', 'x'.repeat(5000), 3),
    ]);
    const { entries, corruptAt } = await replay(dir, path);
    expect(corruptAt).toBeUndefined();
    expect(
      entries.map((entry) => [entry.key, text(entry.value)?.length, entry.seq, entry.timestampMs]),
    ).toEqual([
      ['a', 5, 1, 1001],
      ['é🔑', 0, 2, 1002],
      ['c', 5000, 3, 1003],
    ]);
  });

  it('stops at a torn last record wherever the tear falls, keeping every whole record before it', async () => {
    // Cuts the file at every byte inside the last record: replay must return exactly the first two.
    const dir = await temp.dir();
    const records = [record('k1', 'one', 1), record('k2', 'two', 2), record('k3', 'three', 3)];
    const path = await writeSegment(dir, records);
    const full = await readFile(path);
    const lastStart = full.length - (LOG_RECORD_PREFIX_BYTES + LOG_RECORD_FIXED_BYTES + 2 + 5);
    for (let cut = lastStart; cut < full.length; cut++) {
      await writeFile(path, full.subarray(0, cut));
      const { entries, corruptAt } = await replay(dir, path);
      expect(entries.map((entry) => entry.key)).toEqual(['k1', 'k2']);
      expect(corruptAt).toBe(cut === lastStart ? undefined : lastStart);
    }
  });

  it('detects a flipped bit inside a record by its checksum', async () => {
    // Flips one bit in the second record's value: replay keeps the first and reports the second's offset.
    const dir = await temp.dir();
    const path = await writeSegment(dir, [
      record('k1', 'one', 1),
      record('k2', 'two', 2),
      record('k3', 'three', 3),
    ]);
    const full = await readFile(path);
    const secondStart = LOG_RECORD_PREFIX_BYTES + LOG_RECORD_FIXED_BYTES + 2 + 3;
    full[secondStart + LOG_RECORD_PREFIX_BYTES + LOG_RECORD_FIXED_BYTES + 2]! ^= 0x10;
    await writeFile(path, full);
    const { entries, corruptAt } = await replay(dir, path);
    expect(entries.map((entry) => entry.key)).toEqual(['k1']);
    expect(corruptAt).toBe(secondStart);
  });

  it('reads records larger than the replay chunk (a 3 MiB value)', async () => {
    // Replay reads 1 MiB chunks; a record spanning several must still come back whole.
    const dir = await temp.dir();
    const big = 'v'.repeat(3 * 1024 * 1024);
    const path = await writeSegment(dir, [
      record('small', 's', 1),
      record('big', big, 2),
      record('after', 'a', 3),
    ]);
    const { entries } = await replay(dir, path);
    expect(entries.map((entry) => [entry.key, entry.value.byteLength])).toEqual([
      ['small', 1],
      ['big', big.length],
      ['after', 1],
    ]);
  });
});

describe('engine recovery from the commit log', () => {
  it('ignores and truncates a torn last record after a crash, keeping every earlier write', async () => {
    // Writes 50 keys, crashes, cuts the newest segment in the middle of its last record, reopens.
    const dir = await temp.dir();
    const engine = temp.track(await StorageEngine.open(testOptions(dir)));
    for (let index = 0; index < 50; index++) await engine.put(`key-${index}`, bytes(`value-${index}`));
    const segmentPath = join(dir, `log-${String(engine.stats().logSegmentId).padStart(12, '0')}.wal`);
    await engine.crash();
    const size = (await stat(segmentPath)).size;
    await truncate(segmentPath, size - 7);

    const reopened = temp.track(await StorageEngine.open(testOptions(dir)));
    expect(reopened.recovery.recordsReplayed).toBe(49);
    expect(reopened.recovery.truncated).toMatchObject({ droppedBytes: expect.any(Number) });
    expect((await stat(segmentPath)).size).toBe(reopened.recovery.truncated!.atByte);
    expect(text(await reopened.getValue('key-48'))).toBe('value-48');
    expect(await reopened.get('key-49')).toBeUndefined();
    // New writes continue after the cut, and survive another reopen.
    await reopened.put('key-49', bytes('again'));
    await reopened.close();
    const third = temp.track(await StorageEngine.open(testOptions(dir)));
    expect(text(await third.getValue('key-49'))).toBe('again');
    expect(third.recovery.truncated).toBeUndefined();
    await third.close();
  });

  it('refuses to open when a record is bad in a segment older than the newest (disk corruption, not a torn write)', async () => {
    // Corrupts the first of two segments: silently dropping its tail would lose acknowledged writes.
    const dir = await temp.dir();
    const engine = temp.track(await StorageEngine.open(testOptions(dir)));
    for (let index = 0; index < 20; index++) await engine.put(`key-${index}`, bytes(`value-${index}`));
    const oldSegment = join(dir, `log-${String(engine.stats().logSegmentId).padStart(12, '0')}.wal`);
    await engine.crash();
    const reopened = temp.track(await StorageEngine.open(testOptions(dir)));
    await reopened.put('later', bytes('x'));
    await reopened.crash();
    const content = await readFile(oldSegment);
    content[40]! ^= 0xff;
    await writeFile(oldSegment, content);
    const error = await StorageEngine.open(testOptions(dir)).catch((caught: unknown) => caught);
    expect(isStorageError(error, 'KV_ERR_CORRUPTION')).toBe(true);
    expect((error as { details: { file: string } }).details.file).toBe('log-000000000001.wal');
  });
});
