import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, Lifecycle, ServiceLogger } from '@sysdesign/platform';
import type { Config } from './config.js';
import { MAX_VALUE_BYTES_LIMIT, StorageEngine } from './storage/index.js';
import { advanceGeneration } from './store/generation.js';
import { EngineHintStore } from './store/hint-store.js';

/** Hints engine: small memtable; deleted hints need no grace period (they are never repaired). */
const HINTS_MEMTABLE_BYTES = 1024 * 1024;
const HINTS_TOMBSTONE_GRACE_MS = 0;

/** What a node keeps on disk, recovered. */
export interface NodeStorage {
  /** Raised on every start: vector-clock actors are url#incarnation. */
  incarnation: number;
  /** DATA_DIR/engine: each key's sibling set. */
  engine: StorageEngine;
  /** DATA_DIR/hints: hints for replicas that were down. */
  hintEngine: StorageEngine;
  hints: EngineHintStore;
}

/**
 * Opens the node's storage under DATA_DIR, recovering what a crash left. Each engine's close is
 * deferred on the lifecycle as soon as it is open, so a failed start closes what was opened.
 * `clock` stamps records and decides when tombstones have outlived their grace.
 */
export async function openNodeStorage(
  config: Config,
  logger: ServiceLogger,
  lifecycle: Pick<Lifecycle, 'defer'>,
  clock: Clock,
): Promise<NodeStorage> {
  await mkdir(config.DATA_DIR, { recursive: true });
  const incarnation = await advanceGeneration(config.DATA_DIR, clock.nowMs());
  const now = () => clock.nowMs();
  const engine = await StorageEngine.open({
    dir: join(config.DATA_DIR, 'engine'),
    fsync: config.FSYNC,
    fsyncIntervalMs: config.FSYNC_INTERVAL_MS,
    memtableBytes: config.MEMTABLE_BYTES,
    // A record holds a key's whole sibling set, so it may be several values long.
    maxValueBytes: MAX_VALUE_BYTES_LIMIT,
    tombstoneGraceMs: config.TOMBSTONE_GRACE_MS,
    now,
    logger: logger.child({ engine: 'data' }),
  });
  lifecycle.defer('storage', () => engine.close());
  const hintEngine = await StorageEngine.open({
    dir: join(config.DATA_DIR, 'hints'),
    fsync: config.FSYNC,
    fsyncIntervalMs: config.FSYNC_INTERVAL_MS,
    memtableBytes: HINTS_MEMTABLE_BYTES,
    maxValueBytes: MAX_VALUE_BYTES_LIMIT,
    tombstoneGraceMs: HINTS_TOMBSTONE_GRACE_MS,
    now,
    logger: logger.child({ engine: 'hints' }),
  });
  lifecycle.defer('hint storage', () => hintEngine.close());
  const hints = await EngineHintStore.open(hintEngine, {
    maxEntries: config.HINTS_MAX_KEYS,
    maxBytes: config.HINTS_MAX_BYTES,
    maxAgeMs: config.HINTS_MAX_AGE_MS,
  });
  logger.info({ incarnation, recovery: engine.recovery, hints: hints.stats().entries }, 'storage recovered');
  return { incarnation, engine, hintEngine, hints };
}
