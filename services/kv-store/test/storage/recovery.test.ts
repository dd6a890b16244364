import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ManifestEdit, StorageEngine, type StorageHooks } from '../../src/storage/index.js';
import { bytes, dump, pad, testOptions, text, useTempDirs } from './helpers.js';

const temp = useTempDirs();

/** A hook that freezes the engine at its first manifest commit of `reason`, as a crash at that instant would. */
function freezeAtManifestCommit(reason: ManifestEdit['reason']): {
  hooks: StorageHooks;
  reached: Promise<ManifestEdit>;
} {
  let reach: (edit: ManifestEdit) => void = () => {};
  const reached = new Promise<ManifestEdit>((resolve) => {
    reach = resolve;
  });
  let armed = true;
  const hooks: StorageHooks = {
    beforeManifestCommit: async (edit) => {
      if (!armed || edit.reason !== reason) return;
      armed = false;
      reach(edit);
      await new Promise(() => {});
    },
  };
  return { hooks, reached };
}

const tableName = (id: number) => `sst-${pad(id, 12)}.sst`;
const manifestTables = async (dir: string): Promise<number[]> =>
  JSON.parse((await readFile(join(dir, 'MANIFEST'), 'utf8')).split('\n')[0]!).tables;

describe('crash recovery', () => {
  it('recovers every acknowledged write after the engine is dropped without close, mid-flush and mid-write', async () => {
    // 2,000 writes through many small memtables, crash with writes still in flight, reopen: every acknowledged key is there.
    const dir = await temp.dir();
    const engine = temp.track(
      await StorageEngine.open(testOptions(dir, { memtableBytes: 8 * 1024, autoCompaction: true })),
    );
    const acknowledged = new Map<string, string>();
    let refused = 0;
    const inFlight: Promise<unknown>[] = [];
    for (let index = 0; index < 2_000; index++) {
      const key = `key-${pad(index % 700)}`;
      const value = `value-${index}`;
      const write = engine.put(key, bytes(value)).then(
        () => {
          if (Number(value.slice(6)) > Number(acknowledged.get(key)?.slice(6) ?? -1))
            acknowledged.set(key, value);
        },
        () => refused++,
      );
      inFlight.push(write);
      if (index % 50 === 0) await Promise.all(inFlight.splice(0));
    }
    expect(refused).toBe(0);
    await engine.crash();
    await Promise.all(inFlight);
    expect(acknowledged.size).toBe(700);

    const reopened = temp.track(await StorageEngine.open(testOptions(dir, { memtableBytes: 8 * 1024 })));
    expect(reopened.recovery.recordsReplayed + reopened.recovery.tablesOpened).toBeGreaterThan(0);
    // A write in flight at the crash may or may not be there; the last acknowledged one, or a later one, must be.
    for (const [key, value] of acknowledged) {
      const found = text(await reopened.getValue(key));
      expect(Number(found?.slice(6)), `${key}: ${found} vs acknowledged ${value}`).toBeGreaterThanOrEqual(
        Number(value.slice(6)),
      );
    }
    await reopened.close();
  });

  it('loses nothing and duplicates nothing when a flush crashes between the table write and the manifest update', async () => {
    // Freeze the first flush just before its manifest commit, crash, reopen: the unlisted table is deleted and the log replayed.
    const dir = await temp.dir();
    const freeze = freezeAtManifestCommit('flush');
    const engine = temp.track(await StorageEngine.open(testOptions(dir, { hooks: freeze.hooks })));
    for (let index = 0; index < 300; index++) await engine.put(`key-${pad(index)}`, bytes(`value-${index}`));
    void engine.flush().catch(() => {});
    const edit = await freeze.reached;
    const orphan = tableName(edit.addTableIds[0]!);
    expect(await readdir(dir)).toContain(orphan);
    await engine.crash();

    const reopened = temp.track(await StorageEngine.open(testOptions(dir)));
    expect(reopened.recovery.deletedFiles).toContain(orphan);
    expect(reopened.recovery.recordsReplayed).toBe(300);
    expect(reopened.stats().tables).toHaveLength(0);
    const rows = await dump(reopened);
    expect(rows).toHaveLength(300);
    expect(rows[299]).toEqual(['key-000299', 'value', 'value-299']);
    await reopened.flush();
    expect(reopened.stats().tables).toHaveLength(1);
    expect(await dump(reopened)).toEqual(rows);
    await reopened.close();
  });

  it('replays nothing twice when a crash leaves flushed log segments behind', async () => {
    // Puts back a log segment the flush had deleted (as a crash before the delete would leave it): open deletes it unreplayed.
    const dir = await temp.dir();
    const backup = join(await temp.dir(), 'backup');
    await mkdir(backup);
    const engine = temp.track(await StorageEngine.open(testOptions(dir)));
    for (let index = 0; index < 100; index++) await engine.put(`key-${pad(index)}`, bytes(`old-${index}`));
    const segment = `log-${pad(engine.stats().logSegmentId, 12)}.wal`;
    await copyFile(join(dir, segment), join(backup, segment));
    await engine.flush();
    await engine.put('key-000001', bytes('new'));
    await engine.flush();
    expect(await readdir(dir)).not.toContain(segment);
    await engine.crash();
    await copyFile(join(backup, segment), join(dir, segment));

    const reopened = temp.track(await StorageEngine.open(testOptions(dir)));
    expect(reopened.recovery.recordsReplayed).toBe(0);
    expect(await readdir(dir)).not.toContain(segment);
    expect(text(await reopened.getValue('key-000001'))).toBe('new');
    await reopened.close();
  });

  it('refuses writes but keeps serving reads after a flush fails, and loses nothing on restart', async () => {
    // The manifest update of a flush throws (as a full disk would): writes get KV_ERR_ENGINE_FAILED, reads and close still work.
    const dir = await temp.dir();
    const engine = temp.track(
      await StorageEngine.open(
        testOptions(dir, {
          hooks: {
            beforeManifestCommit: () => {
              throw new Error('ENOSPC: no space left on device');
            },
          },
        }),
      ),
    );
    for (let index = 0; index < 100; index++) await engine.put(`key-${pad(index)}`, bytes(`value-${index}`));
    await expect(engine.flush()).rejects.toMatchObject({ code: 'KV_ERR_ENGINE_FAILED' });
    expect(engine.stats().state).toBe('failed');
    expect(engine.failureReason?.message).toMatch(/ENOSPC/);
    await expect(engine.put('k', bytes('v'))).rejects.toMatchObject({ code: 'KV_ERR_ENGINE_FAILED' });
    expect(text(await engine.getValue('key-000042'))).toBe('value-42');
    await engine.close();

    const reopened = temp.track(await StorageEngine.open(testOptions(dir)));
    expect(reopened.recovery.deletedFiles).toHaveLength(1);
    expect((await dump(reopened)).length).toBe(100);
    await reopened.close();
  });

  it('keeps the input tables when a compaction crashes before its manifest update', async () => {
    // Four overlapping tables, a major compaction frozen before the manifest: reopen deletes its output and reads the inputs.
    const dir = await temp.dir();
    const freeze = freezeAtManifestCommit('compaction');
    const engine = temp.track(await StorageEngine.open(testOptions(dir, { hooks: freeze.hooks })));
    for (let round = 0; round < 4; round++) {
      for (let index = round; index < 200; index += 2)
        await engine.put(`key-${pad(index)}`, bytes(`r${round}-${index}`));
      for (let index = round; index < 200; index += 9) await engine.delete(`key-${pad(index)}`);
      await engine.flush();
    }
    const before = await dump(engine);
    const inputs = engine.stats().tables.map((table) => table.id);
    void engine.compact({ major: true }).catch(() => {});
    const edit = await freeze.reached;
    expect(edit.removeTableIds.sort()).toEqual([...inputs].sort());
    await engine.crash();

    const reopened = temp.track(await StorageEngine.open(testOptions(dir)));
    expect(reopened.recovery.deletedFiles).toContain(tableName(edit.addTableIds[0]!));
    expect((await manifestTables(dir)).sort()).toEqual([...inputs].sort());
    expect(await dump(reopened)).toEqual(before);
    await reopened.close();
  });

  it('never resurrects compacted-away data from input tables a crash left behind after the manifest update', async () => {
    // Compaction drops expired tombstones and old versions; copies of its inputs put back (a crash before deletion) are deleted on open.
    const dir = await temp.dir();
    const backup = join(await temp.dir(), 'backup');
    await mkdir(backup);
    let nowMs = 1_000_000;
    const options = testOptions(dir, { tombstoneGraceMs: 10, now: () => nowMs });
    const engine = temp.track(await StorageEngine.open(options));
    for (let index = 0; index < 50; index++) await engine.put(`key-${pad(index)}`, bytes('old'));
    await engine.flush();
    for (let index = 0; index < 50; index += 2) await engine.delete(`key-${pad(index)}`);
    await engine.flush();
    const inputs = engine.stats().tables.map((table) => tableName(table.id));
    for (const name of inputs) await copyFile(join(dir, name), join(backup, name));
    nowMs += 1_000;
    const report = await engine.compact({ major: true });
    expect(report?.tombstonesDropped).toBe(25);
    await engine.crash();
    for (const name of inputs) await copyFile(join(backup, name), join(dir, name));

    const reopened = temp.track(await StorageEngine.open({ ...options, dir }));
    expect(reopened.recovery.deletedFiles.sort()).toEqual([...inputs].sort());
    expect(await reopened.get('key-000000')).toBeUndefined();
    expect(text(await reopened.getValue('key-000001'))).toBe('old');
    expect((await dump(reopened)).length).toBe(25);
    await reopened.close();
  });

  it('deletes temporary files a crash left mid-write', async () => {
    // A half-written table and a half-written manifest are removed on open and never read.
    const dir = await temp.dir();
    const engine = temp.track(await StorageEngine.open(testOptions(dir)));
    await engine.put('k', bytes('v'));
    await engine.flush();
    await engine.close();
    await writeFile(join(dir, 'MANIFEST.tmp'), '{"format":1,"tables":[');
    await writeFile(join(dir, `${tableName(99)}.tmp`), 'half a table');
    const reopened = temp.track(await StorageEngine.open(testOptions(dir)));
    expect(reopened.recovery.deletedFiles.sort()).toEqual(['MANIFEST.tmp', `${tableName(99)}.tmp`]);
    expect(text(await reopened.getValue('k'))).toBe('v');
    await reopened.close();
  });
});
