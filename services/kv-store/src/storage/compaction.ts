import type { StoredEntry } from './entry.js';
import type { IoLimiter } from './io-limiter.js';
import type { Table, TableCursor, TableWriter } from './sstable.js';

/**
 * Size-tiered compaction, as Cassandra's STCS: tables of similar size are grouped in buckets,
 * and a bucket with `minThreshold` tables is merged into one. Each flush adds a small table; four
 * small ones become a medium one, four medium ones a large one, so a key is rewritten about
 * log4(data / memtable) times and a read checks few tables. Merging keeps the newest version of
 * each key (highest sequence number) and drops tombstones older than the grace period when no
 * table outside the merge may still hold an older version they must hide.
 */

export interface CompactionPolicy {
  /** A bucket is merged once it holds this many tables. */
  minThreshold: number;
  /** At most this many tables are merged at once (the smallest of the bucket). */
  maxThreshold: number;
  /** A table joins a bucket when its size is within [bucketLow, bucketHigh] x the bucket's average. */
  bucketLow: number;
  bucketHigh: number;
  /** Tables smaller than this all share one bucket, whatever their ratios. */
  minTableBytes: number;
  /** A lone table whose tombstones are at least this fraction of its entries is purged on its own. */
  tombstoneRatio: number;
}

export interface CompactionCandidate {
  id: number;
  bytes: number;
  entries: number;
  tombstones: number;
  createdAtMs: number;
}

export interface CompactionChoice {
  ids: number[];
  reason: 'size-tiered' | 'tombstones';
}

/** Groups tables of similar size, smallest first. */
export function sizeTieredBuckets(
  tables: readonly CompactionCandidate[],
  policy: CompactionPolicy,
): CompactionCandidate[][] {
  const sorted = [...tables].sort((a, b) => a.bytes - b.bytes || a.id - b.id);
  const buckets: { tables: CompactionCandidate[]; averageBytes: number }[] = [];
  for (const table of sorted) {
    const last = buckets.at(-1);
    const similar =
      last !== undefined &&
      ((table.bytes >= last.averageBytes * policy.bucketLow &&
        table.bytes <= last.averageBytes * policy.bucketHigh) ||
        (table.bytes < policy.minTableBytes && last.averageBytes < policy.minTableBytes));
    if (similar) {
      last.tables.push(table);
      last.averageBytes += (table.bytes - last.averageBytes) / last.tables.length;
    } else {
      buckets.push({ tables: [table], averageBytes: table.bytes });
    }
  }
  return buckets.map((bucket) => bucket.tables);
}

/**
 * The next compaction worth doing, if any: the bucket of smallest tables that reached the
 * threshold (cheapest to merge, and it removes the most tables per byte rewritten), else the
 * lone table with the largest share of tombstones that are all past the grace period (every
 * tombstone in a table was written before the table was created).
 */
export function chooseCompaction(
  tables: readonly CompactionCandidate[],
  policy: CompactionPolicy,
  nowMs: number,
  tombstoneGraceMs: number,
): CompactionChoice | undefined {
  for (const bucket of sizeTieredBuckets(tables, policy)) {
    if (bucket.length >= policy.minThreshold) {
      return { ids: bucket.slice(0, policy.maxThreshold).map((table) => table.id), reason: 'size-tiered' };
    }
  }
  let best: CompactionCandidate | undefined;
  let bestRatio = 0;
  for (const table of tables) {
    const ratio = table.entries === 0 ? 0 : table.tombstones / table.entries;
    if (
      ratio >= policy.tombstoneRatio &&
      ratio > bestRatio &&
      table.createdAtMs + tombstoneGraceMs <= nowMs
    ) {
      best = table;
      bestRatio = ratio;
    }
  }
  return best === undefined ? undefined : { ids: [best.id], reason: 'tombstones' };
}

export interface MergeOptions {
  inputs: readonly Table[];
  /** Live tables outside the merge: an expired tombstone stays while one of them may hold an older version. */
  others: readonly Table[];
  writer: TableWriter;
  nowMs: number;
  tombstoneGraceMs: number;
  limiter: IoLimiter | undefined;
  /** Throws to abandon the merge (the engine is closing). */
  checkContinue: () => void;
}

export interface MergeResult {
  entriesRead: number;
  entriesWritten: number;
  shadowedDropped: number;
  tombstonesDropped: number;
}

/** Merges `inputs` into `writer`: one version per key, the newest. */
export async function mergeTables(options: MergeOptions): Promise<MergeResult> {
  const { writer, limiter, checkContinue } = options;
  const cursors: TableCursor[] = options.inputs.map((table) => table.cursor(limiter, checkContinue));
  for (const cursor of cursors) await cursor.advance();
  const result: MergeResult = { entriesRead: 0, entriesWritten: 0, shadowedDropped: 0, tombstonesDropped: 0 };
  for (;;) {
    // At most maxThreshold cursors: a linear scan for the smallest key beats a heap at this size.
    let key: string | undefined;
    for (const cursor of cursors) {
      const entry = cursor.entry;
      if (entry !== undefined && (key === undefined || entry.key < key)) key = entry.key;
    }
    if (key === undefined) return result;
    let newest: StoredEntry | undefined;
    let versions = 0;
    for (const cursor of cursors) {
      if (cursor.entry?.key !== key) continue;
      versions++;
      if (newest === undefined || cursor.entry.seq > newest.seq) newest = cursor.entry;
      const reading = cursor.advance();
      if (reading !== undefined) await reading;
    }
    result.entriesRead += versions;
    result.shadowedDropped += versions - 1;
    if (isDroppableTombstone(newest!, options)) {
      result.tombstonesDropped++;
      continue;
    }
    writer.add(newest!);
    result.entriesWritten++;
    if (writer.needsDrain) await writer.drain();
  }
}

function isDroppableTombstone(entry: StoredEntry, options: MergeOptions): boolean {
  if (entry.kind !== 'tombstone' || entry.timestampMs + options.tombstoneGraceMs > options.nowMs)
    return false;
  let keyBytes: Buffer | undefined;
  for (const other of options.others) {
    const { minSeq, minKey, maxKey } = other.meta;
    if (minSeq >= entry.seq || entry.key < minKey || entry.key > maxKey) continue;
    keyBytes ??= Buffer.from(entry.key, 'utf8');
    if (other.mayContain(keyBytes)) return false;
  }
  return true;
}
