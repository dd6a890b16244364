import { tempDir } from '@sysdesign/testkit';
import { afterEach } from 'vitest';
import type { StorageEngine, StorageOptions, StoredEntry } from '../../src/storage/index.js';

/**
 * A fresh directory per call, removed after the test; engines left open are crashed first (in
 * afterEach, which runs before testkit removes the directories).
 */
export function useTempDirs(): {
  dir: () => Promise<string>;
  track: (engine: StorageEngine) => StorageEngine;
} {
  const engines: StorageEngine[] = [];
  afterEach(async () => {
    for (const engine of engines.splice(0)) {
      if (engine.stats().state !== 'closed') await engine.crash();
    }
  });
  return {
    dir: () => tempDir('kv-storage-'),
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
