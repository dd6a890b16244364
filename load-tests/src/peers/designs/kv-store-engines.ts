/**
 * The kv-store's storage engine against the embedded stores a user would pick instead, each in its own
 * directory of this machine's disk, driven alike: LevelDB (`classic-level`) and LMDB (`lmdb`).
 */
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { open as openLmdb } from 'lmdb';
// The service exports its app, not its engine: the bench reads the engine from its sources.
import { StorageEngine } from '../../../../services/kv-store/src/storage/index.js';

export type WriteMode = 'interval' | 'always';

/** The operations the bench drives, the same for every engine. */
export interface BenchEngine {
  put(key: string, value: Buffer): Promise<unknown>;
  /** The value's length, or -1 when the key is absent. */
  getLength(key: string): Promise<number>;
  /** How many entries a scan from `start` returned, at most `limit`. */
  scan(start: string, limit: number): Promise<number>;
  /** Makes everything written durable and readable from the engine's files (not its write buffer). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export interface EngineContender {
  name: string;
  /** What `interval` and `always` mean for this engine, for the report. */
  modes: Record<WriteMode, string>;
  open(dir: string, mode: WriteMode): Promise<BenchEngine>;
}

export const OUR_ENGINE: EngineContender = {
  name: 'ours (LSM: commit log, memtable, SSTables)',
  modes: { interval: "fsync: 'interval' (every 100 ms)", always: "fsync: 'always' (group commit)" },
  async open(dir, mode) {
    const engine = await StorageEngine.open({ dir, fsync: mode });
    return {
      put: (key, value) => engine.put(key, value),
      async getLength(key) {
        const value = await engine.getValue(key);
        return value === undefined ? -1 : value.length;
      },
      async scan(start, limit) {
        return (await engine.scan({ start, limit })).entries.length;
      },
      async settle() {
        await engine.flush();
        await engine.idle();
      },
      close: () => engine.close(),
    };
  },
};

export const LEVELDB: EngineContender = {
  name: 'classic-level (LevelDB)',
  modes: { interval: 'put { sync: false }', always: 'put { sync: true }' },
  async open(dir, mode) {
    const db = new ClassicLevel<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    const sync = mode === 'always';
    return {
      put: (key, value) => db.put(key, value, { sync }),
      async getLength(key) {
        const value = await db.get(key);
        return value === undefined ? -1 : value.length;
      },
      async scan(start, limit) {
        // Read in pages as large as the scan, as a user tuning for it would.
        // all() closes the iterator, also when it fails.
        const entries = await db.iterator({ gte: start, limit, highWaterMarkBytes: limit * 128 }).all();
        return entries.length;
      },
      async settle() {
        await db.compactRange('', '\uffff');
      },
      close: () => db.close(),
    };
  },
};

export const LMDB: EngineContender = {
  name: 'lmdb (LMDB)',
  modes: {
    interval: 'noSync: true (the OS writes the map back)',
    always: 'defaults (each batched transaction synced)',
  },
  async open(dir, mode) {
    const db = openLmdb<Buffer, string>({
      path: join(dir, 'data.mdb'),
      encoding: 'binary',
      noSync: mode === 'interval',
    });
    return {
      put: (key, value) => db.put(key, value),
      async getLength(key) {
        const value = db.get(key);
        return value === undefined ? -1 : value.length;
      },
      async scan(start, limit) {
        let count = 0;
        for (const _entry of db.getRange({ start, limit })) count++;
        return count;
      },
      async settle() {
        await db.flushed;
      },
      close: () => db.close(),
    };
  },
};

export const ENGINE_CONTENDERS = [OUR_ENGINE, LEVELDB, LMDB];
