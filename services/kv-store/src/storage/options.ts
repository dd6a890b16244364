import type { CompactionPolicy } from './compaction.js';
import { MAX_VALUE_BYTES_LIMIT } from './entry.js';
import { StorageError } from './errors.js';
import { realSleep, type Sleep } from './io-limiter.js';
import type { MemtableIndexKind } from './memtable.js';

/**
 * The engine's options: every limit with its unit in its name, a default, and a bound. They are
 * checked and normalised once, in `normalizeOptions`; the engine reads only the result.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const DAY_MS = 24 * 60 * 60 * 1000;

export const DEFAULT_FSYNC_INTERVAL_MS = 100;
export const DEFAULT_MEMTABLE_BYTES = 4 * MiB;
export const DEFAULT_MAX_IMMUTABLE_MEMTABLES = 2;
/** A segment is sealed (with its memtable) past this many times the memtable bound, so overwrites of hot keys cannot grow the log without limit. */
export const LOG_SEGMENT_BYTES_PER_MEMTABLE_BYTE = 4;
export const DEFAULT_MAX_VALUE_BYTES = 1 * MiB;
export const DEFAULT_MAX_PENDING_WRITES = 10_000;
export const DEFAULT_MAX_WRITE_BATCH_BYTES = 1 * MiB;
export const DEFAULT_BLOCK_BYTES = 4 * KiB;
export const DEFAULT_BLOCK_CACHE_BYTES = 8 * MiB;
export const DEFAULT_BLOOM_FALSE_POSITIVE_RATE = 0.01;
/** Cassandra's gc_grace_seconds default: anti-entropy must reach every replica within it. */
export const DEFAULT_TOMBSTONE_GRACE_MS = 10 * DAY_MS;
export const DEFAULT_COMPACTION_BYTES_PER_SECOND = 64 * MiB;
export const DEFAULT_COMPACTION_POLICY: Omit<CompactionPolicy, 'minTableBytes'> = {
  minThreshold: 4,
  maxThreshold: 32,
  bucketLow: 0.5,
  bucketHigh: 1.5,
  tombstoneRatio: 0.2,
};

export type FsyncMode = 'always' | 'interval';

/** A pino-compatible logger (only these three methods are used). */
export interface StorageLogger {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

export const silentLogger: StorageLogger = { info() {}, warn() {}, error() {} };

/** What a flush or compaction is about to make live: the step between table write and manifest. */
export interface ManifestEdit {
  reason: 'flush' | 'compaction';
  addTableIds: number[];
  removeTableIds: number[];
}

/** Fault-injection points for tests. A hook may hang, throw, or crash the engine. */
export interface StorageHooks {
  /** Called after the new table is durable and before the manifest names it. */
  beforeManifestCommit?: (edit: ManifestEdit) => void | Promise<void>;
}

export interface StorageOptions {
  /** The directory holding this engine's files (one engine per directory). */
  dir: string;
  /** `always`: fsync before acknowledging each write (grouped). `interval`: acknowledge after write(2), fsync every `fsyncIntervalMs`. */
  fsync?: FsyncMode;
  fsyncIntervalMs?: number;
  /** The memtable is flushed to an SSTable once it holds this many bytes. */
  memtableBytes?: number;
  memtableIndex?: MemtableIndexKind;
  /** Sealed memtables waiting for their flush; writers wait when this many are queued. */
  maxImmutableMemtables?: number;
  /** A log segment (and its memtable) is sealed past this size. Default: 4 x memtableBytes. */
  logSegmentBytes?: number;
  maxValueBytes?: number;
  /** Writes in progress (queued, being logged, or waiting behind a write of the same key) beyond this are refused with KV_ERR_OVERLOADED. */
  maxPendingWrites?: number;
  /** At most this many bytes of records per log write and fsync (group commit). */
  maxWriteBatchBytes?: number;
  /** Target size of an SSTable data block: the unit of reads, checksums and the sparse index. */
  blockBytes?: number;
  blockCacheBytes?: number;
  bloomFalsePositiveRate?: number;
  /** Tombstones younger than this are kept through compaction, so anti-entropy can spread them. */
  tombstoneGraceMs?: number;
  /** Compact in the background after flushes. Off: only `compact()` compacts. */
  autoCompaction?: boolean;
  compaction?: Partial<CompactionPolicy>;
  /** Disk bandwidth for compaction reads plus writes; 0 is unlimited. */
  compactionBytesPerSecond?: number;
  /** The clock, in milliseconds since the epoch: write timestamps and tombstone expiry. */
  now?: () => number;
  sleep?: Sleep;
  logger?: StorageLogger;
  hooks?: StorageHooks;
}

export interface NormalizedOptions {
  dir: string;
  fsync: FsyncMode;
  fsyncIntervalMs: number;
  memtableBytes: number;
  memtableIndex: MemtableIndexKind;
  maxImmutableMemtables: number;
  logSegmentBytes: number;
  maxValueBytes: number;
  maxPendingWrites: number;
  maxWriteBatchBytes: number;
  blockBytes: number;
  blockCacheBytes: number;
  bloomFalsePositiveRate: number;
  tombstoneGraceMs: number;
  autoCompaction: boolean;
  compaction: CompactionPolicy;
  compactionBytesPerSecond: number;
  now: () => number;
  sleep: Sleep;
  logger: StorageLogger;
  hooks: StorageHooks;
}

function invalid(name: string, message: string): StorageError {
  return new StorageError('KV_ERR_INVALID_OPTION', `${name} ${message}`, { option: name });
}

function integer(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const resolved = value ?? fallback;
  if (!Number.isSafeInteger(resolved) || resolved < min || resolved > max) {
    throw invalid(name, `must be an integer in [${min}, ${max}], got ${String(resolved)}`);
  }
  return resolved;
}

function ratio(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !(resolved >= min && resolved <= max)) {
    throw invalid(name, `must be a number in [${min}, ${max}], got ${String(resolved)}`);
  }
  return resolved;
}

function oneOf<T extends string>(name: string, value: T | undefined, fallback: T, allowed: readonly T[]): T {
  const resolved = value ?? fallback;
  if (!allowed.includes(resolved))
    throw invalid(name, `must be one of ${allowed.join(', ')}, got ${String(resolved)}`);
  return resolved;
}

export function normalizeOptions(options: StorageOptions): NormalizedOptions {
  if (typeof options?.dir !== 'string' || options.dir.length === 0)
    throw invalid('dir', 'must be a non-empty path');
  const memtableBytes = integer(
    'memtableBytes',
    options.memtableBytes,
    DEFAULT_MEMTABLE_BYTES,
    1 * KiB,
    1 * GiB,
  );
  const policy = { ...DEFAULT_COMPACTION_POLICY, minTableBytes: memtableBytes, ...options.compaction };
  const minThreshold = integer('compaction.minThreshold', policy.minThreshold, 4, 2, 32);
  return {
    dir: options.dir,
    fsync: oneOf('fsync', options.fsync, 'always', ['always', 'interval']),
    fsyncIntervalMs: integer(
      'fsyncIntervalMs',
      options.fsyncIntervalMs,
      DEFAULT_FSYNC_INTERVAL_MS,
      1,
      60_000,
    ),
    memtableBytes,
    memtableIndex: oneOf('memtableIndex', options.memtableIndex, 'skiplist', ['skiplist', 'sorted-array']),
    maxImmutableMemtables: integer(
      'maxImmutableMemtables',
      options.maxImmutableMemtables,
      DEFAULT_MAX_IMMUTABLE_MEMTABLES,
      1,
      16,
    ),
    logSegmentBytes: integer(
      'logSegmentBytes',
      options.logSegmentBytes,
      memtableBytes * LOG_SEGMENT_BYTES_PER_MEMTABLE_BYTE,
      1 * KiB,
      4 * GiB,
    ),
    maxValueBytes: integer(
      'maxValueBytes',
      options.maxValueBytes,
      DEFAULT_MAX_VALUE_BYTES,
      1,
      MAX_VALUE_BYTES_LIMIT,
    ),
    maxPendingWrites: integer(
      'maxPendingWrites',
      options.maxPendingWrites,
      DEFAULT_MAX_PENDING_WRITES,
      1,
      1_000_000,
    ),
    maxWriteBatchBytes: integer(
      'maxWriteBatchBytes',
      options.maxWriteBatchBytes,
      DEFAULT_MAX_WRITE_BATCH_BYTES,
      1 * KiB,
      64 * MiB,
    ),
    blockBytes: integer('blockBytes', options.blockBytes, DEFAULT_BLOCK_BYTES, 256, 1 * MiB),
    blockCacheBytes: integer(
      'blockCacheBytes',
      options.blockCacheBytes,
      DEFAULT_BLOCK_CACHE_BYTES,
      0,
      4 * GiB,
    ),
    bloomFalsePositiveRate: ratio(
      'bloomFalsePositiveRate',
      options.bloomFalsePositiveRate,
      DEFAULT_BLOOM_FALSE_POSITIVE_RATE,
      0.000_001,
      0.5,
    ),
    tombstoneGraceMs: integer(
      'tombstoneGraceMs',
      options.tombstoneGraceMs,
      DEFAULT_TOMBSTONE_GRACE_MS,
      0,
      365 * DAY_MS,
    ),
    autoCompaction: options.autoCompaction ?? true,
    compaction: {
      minThreshold,
      maxThreshold: integer('compaction.maxThreshold', policy.maxThreshold, 32, minThreshold, 64),
      bucketLow: ratio('compaction.bucketLow', policy.bucketLow, 0.5, 0.01, 1),
      bucketHigh: ratio('compaction.bucketHigh', policy.bucketHigh, 1.5, 1, 100),
      minTableBytes: integer('compaction.minTableBytes', policy.minTableBytes, memtableBytes, 0, 64 * GiB),
      tombstoneRatio: ratio('compaction.tombstoneRatio', policy.tombstoneRatio, 0.2, 0.01, 1),
    },
    compactionBytesPerSecond: integer(
      'compactionBytesPerSecond',
      options.compactionBytesPerSecond,
      DEFAULT_COMPACTION_BYTES_PER_SECOND,
      0,
      16 * GiB,
    ),
    now: options.now ?? Date.now,
    sleep: options.sleep ?? realSleep,
    logger: options.logger ?? silentLogger,
    hooks: options.hooks ?? {},
  };
}
