import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { StorageEngine, StorageOptions, StoredEntry } from '../../src/storage/index.js';

/** A fresh directory per call, removed after the test (engines left open are crashed first). */
export function useTempDirs(): {
  dir: () => Promise<string>;
  track: (engine: StorageEngine) => StorageEngine;
} {
  const dirs: string[] = [];
  const engines: StorageEngine[] = [];
  afterEach(async () => {
    for (const engine of engines.splice(0)) {
      if (engine.stats().state !== 'closed') await engine.crash();
    }
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  return {
    dir: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kv-storage-'));
      dirs.push(dir);
      return dir;
    },
    track: (engine) => {
      engines.push(engine);
      return engine;
    },
  };
}

/** Defaults for tests: no fsync wait, no I/O throttle, compaction only when asked. */
export function testOptions(dir: string, overrides: Partial<StorageOptions> = {}): StorageOptions {
  return {
    dir,
    fsync: 'interval',
    fsyncIntervalMs: 1_000,
    memtableBytes: 64 * 1024,
    autoCompaction: false,
    compactionBytesPerSecond: 0,
    ...overrides,
  };
}

/** A clock the test moves by hand. */
export function manualClock(startMs = 1_700_000_000_000): {
  now: () => number;
  advance: (ms: number) => void;
} {
  let nowMs = startMs;
  return { now: () => nowMs, advance: (ms) => (nowMs += ms) };
}

/** mulberry32: a small seeded generator, so a failing randomised test replays exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export const bytes = (text: string): Uint8Array => Buffer.from(text, 'utf8');
export const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : Buffer.from(value).toString('utf8');

/** The engine's full ordered content as [key, kind, value text] triples. */
export async function dump(
  engine: StorageEngine,
  pageSize = 97,
): Promise<Array<[string, StoredEntry['kind'], string]>> {
  const rows: Array<[string, StoredEntry['kind'], string]> = [];
  for await (const entry of engine.entries({ pageSize }))
    rows.push([entry.key, entry.kind, text(entry.value)!]);
  return rows;
}

export const pad = (index: number, width = 6): string => String(index).padStart(width, '0');
