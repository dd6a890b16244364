/**
 * # The kv-store storage engine (one per node)
 *
 * An LSM tree, as in Bigtable, Cassandra and the chapter's write and read paths: a commit log
 * for durability, a sorted memtable, immutable SSTables with a sparse index and a bloom filter,
 * and size-tiered compaction. It knows nothing of HTTP, replication or vector clocks: it stores,
 * per key, opaque bytes handed down by the cluster layer.
 *
 * ```
 *  put/delete ─► queue ─► commit log (CRC per record, group fsync) ─► memtable ─► ack
 *                                                       │ full: seal + new log segment
 *                                                       ▼
 *  get ─► memtable ─► sealed memtables ─► SSTables, newest first, each behind its bloom filter
 *                                          ▲ flush (background)   │ size-tiered compaction
 *                                          └──────────────────────┘ (background, I/O bounded)
 * ```
 *
 * ## Contract for the layer above
 *
 * - `StorageEngine.open({ dir, ...options })` recovers whatever a crash left in `dir` (see
 *   `recovery`) and holds the directory (`LOCK`) until `close()`.
 * - `put(key, bytes)`, `delete(key, { value? })` resolve with `{ seq, timestampMs }` once the
 *   record is durable: fsynced (`fsync: 'always'`, concurrent writers share one fsync), or
 *   handed to the kernel (`fsync: 'interval'`: survives a process crash, and a power loss
 *   except for the last `fsyncIntervalMs`). A write is visible to reads only once acknowledged.
 * - **Newest wins, by sequence number.** Every write gets the next `seq` of this engine; the
 *   version with the highest `seq` is the key's current one, wherever it lives (memtable or any
 *   SSTable). The engine never merges values: last write wins *on this node*. The cluster layer
 *   therefore merges sibling sets itself and writes the merged set, using
 *   `update(key, current => decision)`, which is atomic against every other write of that key
 *   through this engine (so two coordinators writing one replica cannot lose a sibling).
 * - `get(key)` returns the current `StoredEntry` — `{ kind: 'value' | 'tombstone', value, seq,
 *   timestampMs }` — or `undefined` when the engine has never seen the key or compaction purged
 *   its tombstone. `getValue(key)` returns only live bytes.
 * - Deletes are tombstones carrying a timestamp (the engine clock, or `timestampMs` given by the
 *   caller, e.g. the coordinator's) and optional bytes (e.g. the delete's vector clock). A
 *   tombstone is kept for `tombstoneGraceMs` (default 10 days) and dropped by compaction after
 *   that, unless a table outside the compaction may still hold an older version it hides.
 *   Anti-entropy must therefore reach every replica within the grace period, and must not spread
 *   tombstones past it (`isPastGrace(entry)`), or deleted data comes back.
 * - `scan({ start, end, limit })` / `entries({ start, end })`: the current version of every key
 *   in [start, end) in key order, tombstones included, a page at a time (each page consistent).
 *   Key order is JavaScript string order (UTF-16 code units); `keyAfter(key)` is the next key.
 * - Limits: keys are non-empty well-formed strings of at most 1 KiB of UTF-8; values at most
 *   `maxValueBytes` (1 MiB default, 64 MiB at most); at most `maxPendingWrites` (10,000) writes in
 *   progress, counting writes that wait behind earlier writes of the same key.
 *   Failures are `StorageError`s with a stable `code` (errors.ts): KV_ERR_KEY_INVALID,
 *   KV_ERR_KEY_TOO_LARGE, KV_ERR_VALUE_INVALID, KV_ERR_VALUE_TOO_LARGE, KV_ERR_INVALID_OPTION,
 *   KV_ERR_OVERLOADED, KV_ERR_CLOSED, KV_ERR_ENGINE_FAILED (a background flush, compaction or log
 *   fsync failed: writes are refused until restart, reads go on; see `failureReason`),
 *   KV_ERR_CORRUPTION (with `details.file` and `details.offset`), KV_ERR_LOCKED.
 * - `quarantine`: keys whose record the layer above could not decode; it adds and releases them
 *   (quarantine.ts), and `stats().quarantinedKeys` counts them for metrics and readiness.
 * - `stats()` gives counters for metrics (bloom checks, negatives and false positives, fsyncs,
 *   flushes, compactions, bytes) and the table list; `flush()`, `compact({ major })` and
 *   `idle()` are for operators and tests; `crash()` simulates kill -9 in tests.
 *
 * ## Usage
 *
 * ```ts
 * const engine = await StorageEngine.open({ dir: join(DATA_DIR, 'engine'), fsync: 'always' });
 * await engine.put('user:1', siblingSetBytes);                      // { seq, timestampMs }
 * await engine.update('user:1', (current) => ({ kind: 'value', value: merge(current, incoming) }));
 * await engine.delete('user:1', { value: deleteClockBytes });      // a tombstone
 * const entry = await engine.get('user:1');                         // StoredEntry | undefined
 * for await (const e of engine.entries({ start: 'a', end: 'b' })) { ... }  // anti-entropy
 * await engine.close();
 * ```
 *
 * Options (all optional but `dir`; see options.ts for bounds): `fsync` ('always'),
 * `fsyncIntervalMs` (100), `memtableBytes` (4 MiB), `memtableIndex` ('skiplist' |
 * 'sorted-array'), `maxImmutableMemtables` (2), `logSegmentBytes` (4 x memtableBytes),
 * `maxValueBytes` (1 MiB), `maxPendingWrites` (10,000), `maxWriteBatchBytes` (1 MiB),
 * `blockBytes` (4 KiB), `blockCacheBytes` (8 MiB), `bloomFalsePositiveRate` (0.01),
 * `tombstoneGraceMs` (10 days), `autoCompaction` (true), `compaction` (size-tiered thresholds),
 * `compactionBytesPerSecond` (64 MiB/s, 0 = unlimited), `now`, `sleep`, `logger` (pino-shaped),
 * `hooks` (fault injection for tests).
 *
 * ## On disk (`dir`)
 *
 * | file | content |
 * |---|---|
 * | `LOCK` | pid of the owning process and a token (the platform's directory lock) |
 * | `MANIFEST` | JSON `{format, lastSeq, flushedLogThrough, nextTableId, tables}` + CRC-32 line; replaced atomically (tmp + fsync + rename + dir fsync) |
 * | `log-<12-digit id>.wal` | commit log segments; records `crc32 u32, length u32, kind u8, seq u64, timestampMs u64, keyLength u16, valueLength u32, key, value` (big-endian, CRC over everything after it) |
 * | `sst-<12-digit id>.sst` | SSTables: data blocks (entries + count + CRC-32), sparse index (last key per block + CRC), bloom filter (platform `BloomFilter` bytes + CRC), meta JSON + CRC, 52-byte footer ending in magic `KVSSTBL1` |
 * | `*.tmp` | files being written; deleted on open |
 *
 * Crash safety, step by step: a record is acknowledged only after its log write (and fsync in
 * `always` mode); a torn last record of the newest segment is cut off on replay, a bad record in
 * an older segment is KV_ERR_CORRUPTION. A flush writes the table to a temp file, fsyncs, renames,
 * then rewrites the manifest (new table + `flushedLogThrough`), then deletes the flushed log
 * segments: a crash before the manifest leaves an unlisted table (deleted on open) and the log
 * (replayed), a crash after leaves flushed segments (deleted on open), so nothing is lost or
 * doubled. Compaction is the same: output table, then a manifest that swaps inputs for output,
 * then the inputs are deleted once no reader holds them.
 */
export {
  type CompactionCandidate,
  type CompactionChoice,
  type CompactionPolicy,
  chooseCompaction,
  sizeTieredBuckets,
} from './compaction.js';
export {
  type CompactionReport,
  DEFAULT_SCAN_LIMIT,
  type DeleteOptions,
  type EngineCounters,
  type EngineState,
  type EngineStats,
  MAX_SCAN_LIMIT,
  type RecoveryReport,
  type ScanOptions,
  type ScanPage,
  StorageEngine,
  type TableStats,
  type UpdateDecision,
  type UpdateResult,
  type WriteOptions,
  type WriteResult,
} from './engine.js';
export { type EntryKind, keyAfter, MAX_KEY_BYTES, MAX_VALUE_BYTES_LIMIT, type StoredEntry } from './entry.js';
export {
  isStorageError,
  STORAGE_ERROR_CODES,
  StorageError,
  type StorageErrorCode,
} from './errors.js';
export { type MemtableIndexKind, SkipList, SortedArray, type SortedIndex } from './memtable.js';
export {
  DEFAULT_BLOCK_BYTES,
  DEFAULT_BLOOM_FALSE_POSITIVE_RATE,
  DEFAULT_FSYNC_INTERVAL_MS,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_MEMTABLE_BYTES,
  DEFAULT_TOMBSTONE_GRACE_MS,
  type FsyncMode,
  type ManifestEdit,
  type StorageHooks,
  type StorageLogger,
  type StorageOptions,
} from './options.js';
export { Quarantine } from './quarantine.js';
