import { join, resolve } from 'node:path';
import { DirectoryLock } from '@sysdesign/platform';
import {
  encodeRecords,
  LogSegment,
  parseSegmentFileName,
  replaySegment,
  segmentFileName,
  truncateSegment,
} from './commit-log.js';
import { chooseCompaction, type MergeResult, mergeTables } from './compaction.js';
import { Disk } from './disk.js';
import {
  checkKey,
  copyEntry,
  copyValue,
  type EntryKind,
  encodeKey,
  keyAfter,
  type StoredEntry,
} from './entry.js';
import { corruption, StorageError } from './errors.js';
import { IoLimiter } from './io-limiter.js';
import {
  emptyManifest,
  MANIFEST_FORMAT_VERSION,
  type ManifestState,
  readManifest,
  writeManifest,
} from './manifest.js';
import { Memtable } from './memtable.js';
import { type NormalizedOptions, normalizeOptions, type StorageOptions } from './options.js';
import { Quarantine } from './quarantine.js';
import { BlockCache, parseTableFileName, Table, type TableOrigin, TableWriter } from './sstable.js';

/**
 * The storage engine of one node: an LSM tree. See index.ts for the contract and the formats.
 *
 * Writes: validate -> queue -> (group) append to the commit log -> fsync (mode `always`) ->
 * memtable -> acknowledge. One pump drains the queue, so sequence numbers, log order and memtable
 * order are the same order. A full memtable is sealed with its log segment and flushed to an
 * SSTable in the background; compaction merges SSTables in the background.
 *
 * Reads: memtable -> sealed memtables (newest first) -> SSTables by descending max sequence
 * number, each behind its key range and bloom filter, stopping once no table left can hold a
 * newer version than the one found.
 */

export const DEFAULT_SCAN_LIMIT = 1_000;
export const MAX_SCAN_LIMIT = 10_000;
const EMPTY_VALUE = new Uint8Array(0);

export interface WriteOptions {
  /** Overrides the engine clock for this record's timestamp (e.g. the coordinator's time of a delete). */
  timestampMs?: number;
}

export interface DeleteOptions extends WriteOptions {
  /** Metadata kept with the tombstone (e.g. the delete's vector clock); empty by default. */
  value?: Uint8Array;
}

export interface WriteResult {
  seq: number;
  timestampMs: number;
}

/** What `update` should write: a value, a tombstone, or (undefined) nothing. */
export type UpdateDecision =
  | { kind: 'value'; value: Uint8Array; timestampMs?: number }
  | { kind: 'tombstone'; value?: Uint8Array; timestampMs?: number }
  | undefined;

export interface UpdateResult {
  written: boolean;
  /** The key's version after the update (the unchanged one when nothing was written). */
  entry: StoredEntry | undefined;
}

export interface ScanOptions {
  /** Inclusive lower bound; from the first key when absent. */
  start?: string;
  /** Exclusive upper bound; to the last key when absent. */
  end?: string;
  limit?: number;
}

export interface ScanPage {
  /** The current version of each key in [start, end), in key order, tombstones included. */
  entries: StoredEntry[];
  /** Pass as `start` for the next page; absent when the range is exhausted. */
  next?: string;
}

export interface TableStats {
  id: number;
  fileBytes: number;
  entries: number;
  tombstones: number;
  minSeq: number;
  maxSeq: number;
  origin: TableOrigin;
  createdAtMs: number;
}

export interface EngineCounters {
  writes: number;
  logBatches: number;
  logBytesWritten: number;
  logSyncs: number;
  writeStalls: number;
  gets: number;
  memtableHits: number;
  tableBlockReads: number;
  bloomChecks: number;
  bloomNegatives: number;
  bloomFalsePositives: number;
  flushes: number;
  compactions: number;
  compactionBytesRead: number;
  compactionBytesWritten: number;
  shadowedDropped: number;
  tombstonesDropped: number;
}

export interface EngineStats {
  state: EngineState;
  lastSeq: number;
  memtable: { entries: number; bytes: number; tombstones: number };
  sealedMemtables: number;
  tables: TableStats[];
  logSegmentId: number;
  logSegmentBytes: number;
  pendingWrites: number;
  blockCache: { bytes: number; hits: number; misses: number };
  counters: EngineCounters;
  /** Keys whose record the layer above could not decode (see quarantine.ts). */
  quarantinedKeys: number;
}

export interface RecoveryReport {
  tablesOpened: number;
  /** Temporary files and tables the manifest does not list: leftovers of a crash mid-flush or mid-compaction. */
  deletedFiles: string[];
  segmentsReplayed: number;
  recordsReplayed: number;
  /** Set when the newest log segment ended in a torn record, cut off at `atByte`. */
  truncated?: { segment: string; atByte: number; droppedBytes: number };
  durationMs: number;
}

export interface CompactionReport {
  reason: 'size-tiered' | 'tombstones' | 'major';
  inputTableIds: number[];
  outputTableId?: number;
  entriesRead: number;
  entriesWritten: number;
  shadowedDropped: number;
  tombstonesDropped: number;
  bytesRead: number;
  bytesWritten: number;
  durationMs: number;
}

export type EngineState = 'open' | 'failed' | 'closing' | 'closed';

interface PendingWrite {
  type: 'write';
  entry: StoredEntry;
  keyBytes: Buffer;
  resolve: (result: WriteResult) => void;
  reject: (error: unknown) => void;
}

interface PendingSeal {
  type: 'seal';
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface SealedMemtable {
  memtable: Memtable;
  /** The log segment that was active when the memtable was sealed: it and older ones hold its records. */
  lastSegmentId: number;
}

/** Runs async sections one at a time, in call order. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section);
    this.tail = result.then(
      () => {},
      () => {},
    );
    return result;
  }
}

/** An immutable set of live tables, newest max sequence first; readers hold it while they read. */
class Version {
  private refs = 1;

  constructor(
    readonly tables: readonly Table[],
    private readonly onTableClosed: (table: Table, error?: unknown) => void,
  ) {
    for (const table of tables) table.ref();
  }

  ref(): void {
    this.refs++;
  }

  unref(): void {
    this.refs--;
    if (this.refs === 0) for (const table of this.tables) table.unref(this.onTableClosed);
  }
}

export class StorageEngine {
  private state: EngineState = 'open';
  private failure: StorageError | undefined;
  private memtable: Memtable;
  private readonly sealed: SealedMemtable[] = [];
  private version: Version;
  private readonly openTables = new Set<Table>();
  private queue: Array<PendingWrite | PendingSeal> = [];
  private queuedWrites = 0;
  /** Writes accepted and not yet settled: queued, in the log write, or waiting behind a write of the same key. */
  private admittedWrites = 0;
  private pumping: Promise<void> | undefined;
  private flushing: Promise<void> | undefined;
  private compacting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private backgroundStopped = false;
  private flushWaiters: Array<() => void> = [];
  private readonly keyTails = new Map<string, Promise<unknown>>();
  private readonly manifestMutex = new Mutex();
  private readonly compactionMutex = new Mutex();
  private readonly limiter: IoLimiter;
  /** Keys the layer above could not decode: it adds them, and releases them when it rewrites them. */
  readonly quarantine: Quarantine;
  private syncTimer: NodeJS.Timeout | undefined;
  private syncingLog = false;
  private readonly counters: EngineCounters = {
    writes: 0,
    logBatches: 0,
    logBytesWritten: 0,
    logSyncs: 0,
    writeStalls: 0,
    gets: 0,
    memtableHits: 0,
    tableBlockReads: 0,
    bloomChecks: 0,
    bloomNegatives: 0,
    bloomFalsePositives: 0,
    flushes: 0,
    compactions: 0,
    compactionBytesRead: 0,
    compactionBytesWritten: 0,
    shadowedDropped: 0,
    tombstonesDropped: 0,
  };

  private constructor(
    private readonly config: NormalizedOptions,
    private readonly disk: Disk,
    private readonly lock: DirectoryLock,
    private readonly cache: BlockCache,
    tables: Table[],
    memtable: Memtable,
    private segment: LogSegment,
    private lastSeq: number,
    private flushedLogThrough: number,
    private nextTableId: number,
    readonly recovery: RecoveryReport,
  ) {
    this.memtable = memtable;
    for (const table of tables) this.openTables.add(table);
    this.version = this.newVersion(tables);
    this.limiter = new IoLimiter(config.compactionBytesPerSecond, config.now, config.sleep);
    this.quarantine = new Quarantine(config.logger);
  }

  /** Opens (or creates) the engine in `options.dir`, recovering whatever a crash left there. */
  static async open(options: StorageOptions): Promise<StorageEngine> {
    const config = normalizeOptions(options);
    const disk = new Disk(resolve(config.dir));
    await disk.mkdir();
    const lock = lockDirectory(disk.dir);
    try {
      const engine = await StorageEngine.recover(config, disk, lock);
      engine.start();
      return engine;
    } catch (error) {
      await disk.halt();
      lock.release();
      throw error;
    }
  }

  private static async recover(
    config: NormalizedOptions,
    disk: Disk,
    lock: DirectoryLock,
  ): Promise<StorageEngine> {
    const startedMs = performance.now();
    const manifest = (await readManifest(disk)) ?? emptyManifest();
    const names = await disk.readdir();
    const report: RecoveryReport = {
      tablesOpened: 0,
      deletedFiles: [],
      segmentsReplayed: 0,
      recordsReplayed: 0,
      durationMs: 0,
    };
    const nextTableId = await deleteLeftovers(disk, names, manifest, report);
    const cache = new BlockCache(config.blockCacheBytes);
    const tables: Table[] = [];
    for (const id of manifest.tables) tables.push(await Table.open(disk, id, cache));
    report.tablesOpened = tables.length;
    let lastSeq = manifest.lastSeq;
    for (const table of tables) lastSeq = Math.max(lastSeq, table.meta.maxSeq);

    const memtable = new Memtable(config.memtableIndex);
    const replay = await replayLog(disk, names, manifest.flushedLogThrough, memtable, report, config);
    lastSeq = Math.max(lastSeq, replay.maxSeq);
    const segment = await LogSegment.create(
      disk,
      Math.max(replay.newestSegmentId, manifest.flushedLogThrough) + 1,
    );
    await disk.syncDir();
    report.durationMs = performance.now() - startedMs;
    return new StorageEngine(
      config,
      disk,
      lock,
      cache,
      tables,
      memtable,
      segment,
      lastSeq,
      manifest.flushedLogThrough,
      nextTableId,
      report,
    );
  }

  private start(): void {
    if (this.config.fsync === 'interval') {
      this.syncTimer = setInterval(() => void this.syncLog(), this.config.fsyncIntervalMs);
      this.syncTimer.unref();
    }
    if (this.memtable.bytes >= this.config.memtableBytes) this.enqueueSeal().catch(() => {});
    this.scheduleCompaction();
  }

  // ---------------------------------------------------------------- writes

  /** Writes `value` as the key's current version. Resolves once durable per the fsync mode. */
  async put(key: string, value: Uint8Array, options: WriteOptions = {}): Promise<WriteResult> {
    const keyBytes = encodeKey(key);
    const entry = this.newEntry(
      key,
      'value',
      copyValue(value, this.config.maxValueBytes),
      options.timestampMs,
    );
    return this.admit(key, () => this.enqueueWrite(entry, keyBytes));
  }

  /** Writes a tombstone: the key reads as deleted until compaction drops it after the grace period. */
  async delete(key: string, options: DeleteOptions = {}): Promise<WriteResult> {
    const keyBytes = encodeKey(key);
    const value =
      options.value === undefined ? EMPTY_VALUE : copyValue(options.value, this.config.maxValueBytes);
    const entry = this.newEntry(key, 'tombstone', value, options.timestampMs);
    return this.admit(key, () => this.enqueueWrite(entry, keyBytes));
  }

  /**
   * Read-modify-write of one key, atomic with respect to every other write of that key through
   * this engine: `decide` sees the current version and returns what to write (or undefined for
   * nothing). The cluster layer merges an incoming sibling set with the stored one this way.
   */
  async update(
    key: string,
    decide: (current: StoredEntry | undefined) => UpdateDecision | Promise<UpdateDecision>,
  ): Promise<UpdateResult> {
    const keyBytes = encodeKey(key);
    return this.admit(key, async () => {
      this.assertWritable();
      const current = await this.get(key);
      const decision = await decide(current);
      if (decision === undefined) return { written: false, entry: current };
      const value =
        decision.value === undefined ? EMPTY_VALUE : copyValue(decision.value, this.config.maxValueBytes);
      const entry = this.newEntry(key, decision.kind, value, decision.timestampMs);
      await this.enqueueWrite(entry, keyBytes);
      return { written: true, entry: copyEntry(entry) };
    });
  }

  private newEntry(
    key: string,
    kind: EntryKind,
    value: Uint8Array,
    timestampMs: number | undefined,
  ): StoredEntry {
    if (timestampMs !== undefined && !(Number.isSafeInteger(timestampMs) && timestampMs >= 0)) {
      throw new StorageError('KV_ERR_INVALID_OPTION', 'timestampMs must be a non-negative integer', {
        field: 'timestampMs',
      });
    }
    return { key, kind, value, seq: 0, timestampMs: timestampMs ?? this.config.now() };
  }

  /**
   * Admits one write: counts it against `maxPendingWrites` from now until it settles (including
   * time spent waiting behind earlier writes of the same key), then runs it under the key's lock.
   */
  private admit<T>(key: string, operation: () => Promise<T>): Promise<T> {
    this.assertWritable();
    if (this.admittedWrites >= this.config.maxPendingWrites) {
      throw new StorageError('KV_ERR_OVERLOADED', `${this.admittedWrites} writes in progress`, {
        maxPendingWrites: this.config.maxPendingWrites,
      });
    }
    this.admittedWrites++;
    const release = () => {
      this.admittedWrites--;
    };
    const result = this.withKeyLock(key, operation);
    void result.then(release, release);
    return result;
  }

  /** Chains `operation` after every earlier write of `key` that is still in flight. */
  private withKeyLock<T>(key: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.keyTails.get(key);
    const result = previous === undefined ? runAsync(operation) : previous.then(operation, operation);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.keyTails.set(key, tail);
    void tail.then(() => {
      if (this.keyTails.get(key) === tail) this.keyTails.delete(key);
    });
    return result;
  }

  private enqueueWrite(entry: StoredEntry, keyBytes: Buffer): Promise<WriteResult> {
    this.assertWritable();
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ type: 'write', entry, keyBytes, resolve, reject });
      this.queuedWrites++;
      this.startPump();
    });
  }

  private enqueueSeal(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ type: 'seal', resolve, reject });
      this.startPump();
    });
  }

  private startPump(): void {
    if (this.pumping !== undefined) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  /** The single writer: drains the queue in order, a group of records per log write and fsync. */
  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      if (this.state === 'failed' || this.state === 'closed') {
        this.rejectQueue(this.failure ?? closedError());
        return;
      }
      const head = this.queue[0]!;
      if (head.type === 'seal') {
        this.queue.shift();
        try {
          if (this.memtable.entryCount > 0) await this.rotate();
          head.resolve();
        } catch (error) {
          head.reject(this.fail(error));
        }
        continue;
      }
      const batch = this.takeBatch();
      try {
        await this.writeBatch(batch);
      } catch (error) {
        const failure = this.fail(error);
        for (const write of batch) write.reject(failure);
        continue;
      }
      for (const write of batch) {
        this.memtable.apply(write.entry, write.keyBytes.length);
        write.resolve({ seq: write.entry.seq, timestampMs: write.entry.timestampMs });
      }
      if (
        this.memtable.bytes >= this.config.memtableBytes ||
        this.segment.size >= this.config.logSegmentBytes
      ) {
        try {
          await this.rotate();
        } catch (error) {
          this.fail(error);
        }
      }
    }
  }

  /** Takes the queued writes up to the next seal or `maxWriteBatchBytes`, numbering them in order. */
  private takeBatch(): PendingWrite[] {
    const batch: PendingWrite[] = [];
    let bytes = 0;
    let taken = 0;
    // A batch never overshoots the memtable bound by much: the size check runs between batches.
    const maxBytes = Math.min(this.config.maxWriteBatchBytes, this.config.memtableBytes);
    while (taken < this.queue.length && bytes < maxBytes) {
      const item = this.queue[taken]!;
      if (item.type !== 'write') break;
      item.entry.seq = ++this.lastSeq;
      bytes += item.keyBytes.length + item.entry.value.byteLength;
      batch.push(item);
      taken++;
    }
    this.queue = taken === this.queue.length ? [] : this.queue.slice(taken);
    this.queuedWrites -= batch.length;
    return batch;
  }

  private async writeBatch(batch: PendingWrite[]): Promise<void> {
    const buffer = encodeRecords(batch);
    await this.segment.append(buffer);
    if (this.config.fsync === 'always') {
      await this.segment.sync();
      this.counters.logSyncs++;
    }
    this.counters.writes += batch.length;
    this.counters.logBatches++;
    this.counters.logBytesWritten += buffer.length;
  }

  /** Seals the memtable with its log segment, starts a new pair, and schedules the flush. */
  private async rotate(): Promise<void> {
    while (this.sealed.length >= this.config.maxImmutableMemtables) {
      this.counters.writeStalls++;
      await this.nextFlushEvent();
      if (this.state === 'failed' || this.state === 'closed') throw this.failure ?? closedError();
    }
    const old = this.segment;
    await old.sync();
    const next = await LogSegment.create(this.disk, old.id + 1);
    await this.disk.syncDir();
    this.segment = next;
    await old.close();
    this.sealed.push({ memtable: this.memtable, lastSegmentId: old.id });
    this.memtable = new Memtable(this.config.memtableIndex);
    this.scheduleFlush();
  }

  private async syncLog(): Promise<void> {
    if (this.syncingLog || !this.segment.isDirty || this.state !== 'open') return;
    this.syncingLog = true;
    try {
      await this.segment.sync();
      this.counters.logSyncs++;
    } catch (error) {
      this.fail(error);
    } finally {
      this.syncingLog = false;
    }
  }

  // ---------------------------------------------------------------- reads

  /** The key's current version (a value or a tombstone), or undefined if the engine has none. */
  async get(key: string): Promise<StoredEntry | undefined> {
    checkKey(key);
    this.assertReadable();
    this.counters.gets++;
    const inMemory = this.findInMemory(key);
    if (inMemory !== undefined) {
      this.counters.memtableHits++;
      return copyEntry(inMemory);
    }
    const version = this.version;
    version.ref();
    try {
      const found = await this.findInTables(version, key);
      return found === undefined ? undefined : copyEntry(found);
    } finally {
      version.unref();
    }
  }

  /** The value bytes of a key, or undefined when it is absent or deleted. */
  async getValue(key: string): Promise<Uint8Array | undefined> {
    const entry = await this.get(key);
    return entry?.kind === 'value' ? entry.value : undefined;
  }

  private findInMemory(key: string): StoredEntry | undefined {
    const found = this.memtable.get(key);
    if (found !== undefined) return found;
    for (let index = this.sealed.length - 1; index >= 0; index--) {
      const entry = this.sealed[index]!.memtable.get(key);
      if (entry !== undefined) return entry;
    }
    return undefined;
  }

  private async findInTables(version: Version, key: string): Promise<StoredEntry | undefined> {
    let best: StoredEntry | undefined;
    let keyBytes: Buffer | undefined;
    for (const table of version.tables) {
      // Tables are ordered by max sequence number: none after this one can beat what we have.
      if (best !== undefined && table.meta.maxSeq < best.seq) break;
      if (key < table.meta.minKey || key > table.meta.maxKey) continue;
      this.counters.bloomChecks++;
      keyBytes ??= Buffer.from(key, 'utf8');
      if (!table.mayContain(keyBytes)) {
        this.counters.bloomNegatives++;
        continue;
      }
      this.counters.tableBlockReads++;
      const entry = await table.get(key);
      if (entry === undefined) this.counters.bloomFalsePositives++;
      else if (best === undefined || entry.seq > best.seq) best = entry;
    }
    return best;
  }

  /**
   * One page of the ordered scan: the current version of every key in [start, end), tombstones
   * included (the caller decides what an expired one means, see `isPastGrace`). Each page is a
   * consistent merge of memory and tables as of the call.
   */
  async scan(options: ScanOptions = {}): Promise<ScanPage> {
    const { start, end } = options;
    const limit = options.limit ?? DEFAULT_SCAN_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SCAN_LIMIT) {
      throw new StorageError('KV_ERR_INVALID_OPTION', `limit must be an integer in [1, ${MAX_SCAN_LIMIT}]`, {
        field: 'limit',
      });
    }
    for (const [field, bound] of [
      ['start', start],
      ['end', end],
    ] as const) {
      if (bound !== undefined && typeof bound !== 'string') {
        throw new StorageError('KV_ERR_INVALID_OPTION', `${field} must be a string`, { field });
      }
    }
    this.assertReadable();
    const newest = new Map<string, StoredEntry>();
    const offer = (entries: readonly StoredEntry[]) => {
      for (const entry of entries) {
        const known = newest.get(entry.key);
        if (known === undefined || entry.seq > known.seq) newest.set(entry.key, entry);
      }
    };
    // Memory first, synchronously, with the table set of the same instant.
    offer(this.memtable.range(start, end, limit));
    for (const { memtable } of this.sealed) offer(memtable.range(start, end, limit));
    const version = this.version;
    version.ref();
    try {
      for (const table of version.tables) {
        if (
          (end !== undefined && table.meta.minKey >= end) ||
          (start !== undefined && table.meta.maxKey < start)
        )
          continue;
        offer(await table.range(start, end, limit));
      }
    } finally {
      version.unref();
    }
    const keys = [...newest.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const entries = keys.slice(0, limit).map((key) => copyEntry(newest.get(key)!));
    const page: ScanPage = { entries };
    if (keys.length >= limit) page.next = keyAfter(entries.at(-1)!.key);
    return page;
  }

  /** Every current version in [start, end), in key order, fetched a page at a time. */
  async *entries(
    options: Omit<ScanOptions, 'limit'> & { pageSize?: number } = {},
  ): AsyncGenerator<StoredEntry> {
    let start = options.start;
    for (;;) {
      const page = await this.scan({
        ...(start === undefined ? {} : { start }),
        ...(options.end === undefined ? {} : { end: options.end }),
        limit: options.pageSize ?? DEFAULT_SCAN_LIMIT,
      });
      yield* page.entries;
      if (page.next === undefined) return;
      start = page.next;
    }
  }

  /** True for a tombstone older than the grace period: anti-entropy should not spread it. */
  isPastGrace(entry: StoredEntry): boolean {
    return (
      entry.kind === 'tombstone' && entry.timestampMs + this.config.tombstoneGraceMs <= this.config.now()
    );
  }

  get tombstoneGraceMs(): number {
    return this.config.tombstoneGraceMs;
  }

  // ---------------------------------------------------------------- flush

  /** Seals the memtable and waits until every sealed memtable is an SSTable. */
  async flush(): Promise<void> {
    this.assertWritable();
    await this.enqueueSeal();
    while (this.sealed.length > 0) {
      if (this.state === 'failed' || this.state === 'closed') throw this.failure ?? closedError();
      await this.nextFlushEvent();
    }
  }

  private scheduleFlush(): void {
    if (this.flushing !== undefined || this.backgroundStopped) return;
    this.flushing = this.runFlushes().finally(() => {
      this.flushing = undefined;
      // A memtable sealed while the loop was finishing must not wait for the next one.
      if (this.sealed.length > 0 && this.isRunning()) this.scheduleFlush();
    });
  }

  private async runFlushes(): Promise<void> {
    while (this.sealed.length > 0 && this.isRunning() && !this.backgroundStopped) {
      try {
        await this.flushMemtable(this.sealed[0]!);
      } catch (error) {
        this.fail(error);
        return;
      }
      this.wakeFlushWaiters();
    }
    this.scheduleCompaction();
  }

  private async flushMemtable({ memtable, lastSegmentId }: SealedMemtable): Promise<void> {
    const added: Table[] = [];
    if (memtable.entryCount > 0) {
      const id = this.nextTableId++;
      const writer = await TableWriter.create(this.disk, id, {
        blockBytes: this.config.blockBytes,
        bloomFalsePositiveRate: this.config.bloomFalsePositiveRate,
        expectedEntries: memtable.entryCount,
        origin: 'flush',
        createdAtMs: this.config.now(),
      });
      try {
        for (const entry of memtable.values()) {
          writer.add(entry);
          if (writer.needsDrain) await writer.drain();
        }
        await writer.finish();
      } catch (error) {
        await writer.abort();
        throw error;
      }
      added.push(await this.openTable(id));
    }
    try {
      await this.commit({ reason: 'flush', add: added, remove: [], flushedLogThrough: lastSegmentId }, () => {
        this.sealed.shift();
      });
    } catch (error) {
      for (const table of added) this.discardTable(table);
      throw error;
    }
    this.counters.flushes++;
    await this.deleteSegmentsThrough(lastSegmentId);
  }

  private async openTable(id: number): Promise<Table> {
    const table = await Table.open(this.disk, id, this.cache);
    this.openTables.add(table);
    return table;
  }

  /** Closes a table that never became live (its commit failed); the file is an orphan for the next open. */
  private discardTable(table: Table): void {
    table.ref();
    table.unref((closed, error) => {
      this.openTables.delete(closed);
      if (error !== undefined)
        this.config.logger.warn({ table: closed.id, error: String(error) }, 'closing a table failed');
    });
  }

  private async deleteSegmentsThrough(lastSegmentId: number): Promise<void> {
    for (const name of await this.disk.readdir()) {
      const id = parseSegmentFileName(name);
      if (id === undefined || id > lastSegmentId) continue;
      await this.disk.unlink(join(this.disk.dir, name)).catch((error: unknown) => {
        this.config.logger.warn(
          { file: name, error: String(error) },
          'could not delete a flushed log segment',
        );
      });
    }
  }

  /**
   * Makes a new table set durable (the manifest) and then visible, in that order; `installed`
   * runs in the same tick as the swap, so no reader ever sees data twice or not at all.
   */
  private commit(
    edit: {
      reason: 'flush' | 'compaction';
      add: Table[];
      remove: readonly Table[];
      flushedLogThrough?: number;
    },
    installed?: () => void,
  ): Promise<void> {
    return this.manifestMutex.run(async () => {
      await this.config.hooks.beforeManifestCommit?.({
        reason: edit.reason,
        addTableIds: edit.add.map((table) => table.id),
        removeTableIds: edit.remove.map((table) => table.id),
      });
      const removed = new Set(edit.remove);
      const tables = this.version.tables.filter((table) => !removed.has(table)).concat(edit.add);
      const flushedLogThrough = edit.flushedLogThrough ?? this.flushedLogThrough;
      await writeManifest(this.disk, {
        format: MANIFEST_FORMAT_VERSION,
        lastSeq: this.lastSeq,
        flushedLogThrough,
        nextTableId: this.nextTableId,
        tables: tables.map((table) => table.id),
      });
      this.flushedLogThrough = flushedLogThrough;
      for (const table of edit.remove) table.markObsolete();
      const previous = this.version;
      this.version = this.newVersion(tables);
      previous.unref();
      installed?.();
    });
  }

  private newVersion(tables: readonly Table[]): Version {
    const ordered = [...tables].sort((a, b) => b.meta.maxSeq - a.meta.maxSeq);
    return new Version(ordered, (table, error) => {
      this.openTables.delete(table);
      if (error !== undefined)
        this.config.logger.warn({ table: table.id, error: String(error) }, 'closing a table failed');
    });
  }

  // ---------------------------------------------------------------- compaction

  /**
   * Runs one compaction now and reports it: `major` merges every table (and so drops every
   * expired tombstone); otherwise the policy's choice, if any.
   */
  async compact(options: { major?: boolean } = {}): Promise<CompactionReport | undefined> {
    this.assertWritable();
    return this.compactionMutex.run(async () => {
      const tables = this.version.tables;
      if (options.major) return tables.length === 0 ? undefined : this.compactTables(tables, 'major');
      const choice = this.chooseCompaction();
      return choice === undefined ? undefined : this.compactTables(choice.tables, choice.reason);
    });
  }

  private chooseCompaction(): { tables: Table[]; reason: 'size-tiered' | 'tombstones' } | undefined {
    const tables = this.version.tables;
    const candidates = tables.map((table) => ({
      id: table.id,
      bytes: table.fileBytes,
      entries: table.meta.entries,
      tombstones: table.meta.tombstones,
      createdAtMs: table.meta.createdAtMs,
    }));
    const choice = chooseCompaction(
      candidates,
      this.config.compaction,
      this.config.now(),
      this.config.tombstoneGraceMs,
    );
    if (choice === undefined) return undefined;
    const chosen = new Set(choice.ids);
    return { tables: tables.filter((table) => chosen.has(table.id)), reason: choice.reason };
  }

  private scheduleCompaction(): void {
    if (
      !this.config.autoCompaction ||
      this.compacting !== undefined ||
      this.backgroundStopped ||
      !this.isRunning()
    )
      return;
    this.compacting = this.runCompactions().finally(() => {
      this.compacting = undefined;
    });
  }

  private async runCompactions(): Promise<void> {
    while (this.isRunning() && !this.backgroundStopped) {
      try {
        const report = await this.compactionMutex.run(async () => {
          const choice = this.chooseCompaction();
          return choice === undefined ? undefined : this.compactTables(choice.tables, choice.reason);
        });
        if (report === undefined) return;
      } catch (error) {
        if (!this.backgroundStopped) this.fail(error);
        return;
      }
    }
  }

  /** Merges `inputs` into one new table and swaps it in. Runs under the compaction mutex. */
  private async compactTables(
    inputs: readonly Table[],
    reason: CompactionReport['reason'],
  ): Promise<CompactionReport> {
    const startedMs = performance.now();
    const version = this.version;
    version.ref();
    try {
      const inputSet = new Set(inputs);
      const others = version.tables.filter((table) => !inputSet.has(table));
      const { output, merge } = await this.writeMergedTable(inputs, others, reason);
      try {
        await this.commit({
          reason: 'compaction',
          add: output === undefined ? [] : [output],
          remove: inputs,
        });
      } catch (error) {
        if (output !== undefined) this.discardTable(output);
        throw error;
      }
      let bytesRead = 0;
      for (const table of inputs) bytesRead += table.fileBytes;
      const bytesWritten = output?.fileBytes ?? 0;
      this.counters.compactions++;
      this.counters.compactionBytesRead += bytesRead;
      this.counters.compactionBytesWritten += bytesWritten;
      this.counters.shadowedDropped += merge.shadowedDropped;
      this.counters.tombstonesDropped += merge.tombstonesDropped;
      const report: CompactionReport = {
        reason,
        inputTableIds: inputs.map((table) => table.id),
        ...(output === undefined ? {} : { outputTableId: output.id }),
        ...merge,
        bytesRead,
        bytesWritten,
        durationMs: performance.now() - startedMs,
      };
      this.config.logger.info({ dir: this.disk.dir, ...report }, 'compaction finished');
      return report;
    } finally {
      version.unref();
    }
  }

  /** Merges `inputs` into a new, durable, not yet live table (none if nothing survives the merge). */
  private async writeMergedTable(
    inputs: readonly Table[],
    others: readonly Table[],
    reason: CompactionReport['reason'],
  ): Promise<{ output: Table | undefined; merge: MergeResult }> {
    const id = this.nextTableId++;
    let expectedEntries = 0;
    for (const table of inputs) expectedEntries += table.meta.entries;
    const writer = await TableWriter.create(this.disk, id, {
      blockBytes: this.config.blockBytes,
      bloomFalsePositiveRate: this.config.bloomFalsePositiveRate,
      expectedEntries,
      origin: reason === 'tombstones' ? 'tombstone-compaction' : 'compaction',
      createdAtMs: this.config.now(),
      limiter: this.limiter,
    });
    let merge: MergeResult;
    try {
      merge = await mergeTables({
        inputs,
        others,
        writer,
        nowMs: this.config.now(),
        tombstoneGraceMs: this.config.tombstoneGraceMs,
        limiter: this.limiter,
        checkContinue: () => {
          if (this.backgroundStopped) throw closedError();
        },
      });
      if (writer.entryCount === 0) {
        await writer.abort();
        return { output: undefined, merge };
      }
      await writer.finish();
    } catch (error) {
      await writer.abort();
      throw error;
    }
    return { output: await this.openTable(id), merge };
  }

  // ---------------------------------------------------------------- lifecycle

  /** Waits until no write, flush or compaction is in progress (tests and benchmarks). */
  async idle(): Promise<void> {
    for (;;) {
      const busy = [this.pumping, this.flushing, this.compacting].filter((work) => work !== undefined);
      if (busy.length === 0) return;
      await Promise.allSettled(busy);
    }
  }

  /**
   * Finishes the writes already accepted, fsyncs the log, stops background work (a compaction in
   * progress is abandoned; its inputs stay live) and closes every file. The memtable is not
   * flushed: the log holds it, and the next open replays it.
   */
  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'open') this.state = 'closing';
    await this.pumping;
    this.backgroundStopped = true;
    this.wakeFlushWaiters();
    clearInterval(this.syncTimer);
    await Promise.allSettled([this.flushing, this.compacting]);
    let syncError: unknown;
    try {
      await this.segment.sync();
      await this.segment.close();
    } catch (error) {
      syncError = error;
    }
    this.state = 'closed';
    this.version.unref();
    await Promise.all([...this.openTables].map((table) => table.closed));
    await this.disk.halt();
    this.lock.release();
    if (syncError !== undefined)
      throw new StorageError('KV_ERR_ENGINE_FAILED', 'final log fsync failed', {}, { cause: syncError });
  }

  /**
   * Stops dead, as kill -9 would: no flush, no fsync, no cleanup; every file handle is closed and
   * every later file operation of this instance refused. For crash tests in one process: open the
   * directory again afterwards and recovery runs as after a real crash (less the page cache loss).
   */
  async crash(): Promise<void> {
    this.state = 'closed';
    this.backgroundStopped = true;
    clearInterval(this.syncTimer);
    await this.disk.halt();
    this.rejectQueue(closedError());
    this.wakeFlushWaiters();
    this.lock.abandon();
  }

  stats(): EngineStats {
    return {
      state: this.state,
      lastSeq: this.lastSeq,
      memtable: {
        entries: this.memtable.entryCount,
        bytes: this.memtable.bytes,
        tombstones: this.memtable.tombstones,
      },
      sealedMemtables: this.sealed.length,
      tables: this.version.tables.map((table) => ({
        id: table.id,
        fileBytes: table.fileBytes,
        entries: table.meta.entries,
        tombstones: table.meta.tombstones,
        minSeq: table.meta.minSeq,
        maxSeq: table.meta.maxSeq,
        origin: table.meta.origin,
        createdAtMs: table.meta.createdAtMs,
      })),
      logSegmentId: this.segment.id,
      logSegmentBytes: this.segment.size,
      pendingWrites: this.admittedWrites,
      blockCache: { bytes: this.cache.usedBytes, hits: this.cache.hits, misses: this.cache.misses },
      counters: { ...this.counters },
      quarantinedKeys: this.quarantine.size,
    };
  }

  /** Why the engine stopped accepting writes, if it did (for readiness checks). */
  get failureReason(): StorageError | undefined {
    return this.failure;
  }

  get directory(): string {
    return this.disk.dir;
  }

  private isRunning(): boolean {
    return this.state === 'open' || this.state === 'closing';
  }

  private assertWritable(): void {
    if (this.state === 'open') return;
    throw this.state === 'failed' ? this.failure! : closedError();
  }

  private assertReadable(): void {
    if (this.state === 'closed') throw closedError();
  }

  /** Records a background failure: writes are refused from now on; reads go on. */
  private fail(error: unknown): StorageError {
    if (this.state === 'closed' || this.backgroundStopped) {
      return error instanceof StorageError ? error : closedError();
    }
    const failure =
      error instanceof StorageError && error.code === 'KV_ERR_ENGINE_FAILED'
        ? error
        : new StorageError(
            'KV_ERR_ENGINE_FAILED',
            String((error as Error)?.message ?? error),
            {},
            { cause: error },
          );
    if (this.failure === undefined) {
      this.failure = failure;
      this.config.logger.error(
        { dir: this.disk.dir, error: String(error) },
        'storage engine failed; refusing writes',
      );
    }
    if (this.state === 'open') this.state = 'failed';
    this.rejectQueue(failure);
    this.wakeFlushWaiters();
    return failure;
  }

  private rejectQueue(error: unknown): void {
    const queue = this.queue;
    this.queue = [];
    this.queuedWrites = 0;
    for (const item of queue) item.reject(error);
  }

  private nextFlushEvent(): Promise<void> {
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  private wakeFlushWaiters(): void {
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Deletes what a crash can leave behind: temporary files, and tables the manifest does not list
 * (a flush or compaction that died before its manifest update). Returns the next free table id.
 */
async function deleteLeftovers(
  disk: Disk,
  names: readonly string[],
  manifest: ManifestState,
  report: RecoveryReport,
): Promise<number> {
  const live = new Set(manifest.tables);
  let nextTableId = manifest.nextTableId;
  for (const name of names) {
    const tableId = parseTableFileName(name);
    if (tableId !== undefined) nextTableId = Math.max(nextTableId, tableId + 1);
    if (name.endsWith('.tmp') || (tableId !== undefined && !live.has(tableId))) {
      await disk.unlink(join(disk.dir, name));
      report.deletedFiles.push(name);
    }
  }
  return nextTableId;
}

/**
 * Replays the log segments not yet in tables into `memtable`, oldest first, and deletes the ones
 * that are. A torn record can only end the newest segment (older ones were fsynced before the
 * next was created): it is cut off there. A bad record anywhere else is corruption.
 */
async function replayLog(
  disk: Disk,
  names: readonly string[],
  flushedLogThrough: number,
  memtable: Memtable,
  report: RecoveryReport,
  config: NormalizedOptions,
): Promise<{ maxSeq: number; newestSegmentId: number }> {
  const segmentIds = names.flatMap((name) => parseSegmentFileName(name) ?? []).sort((a, b) => a - b);
  const newestSegmentId = segmentIds.at(-1) ?? 0;
  let maxSeq = 0;
  for (const id of segmentIds) {
    const name = segmentFileName(id);
    const path = join(disk.dir, name);
    if (id <= flushedLogThrough) {
      await disk.unlink(path);
      continue;
    }
    const replay = await replaySegment(disk, path, (entry, keyByteLength) =>
      memtable.apply(entry, keyByteLength),
    );
    report.segmentsReplayed++;
    report.recordsReplayed += replay.records;
    maxSeq = Math.max(maxSeq, replay.maxSeq);
    if (replay.corruptAt === undefined) continue;
    if (id !== newestSegmentId) {
      throw corruption(name, replay.corruptAt, 'bad commit log record before the newest segment');
    }
    await truncateSegment(disk, path, replay.corruptAt);
    report.truncated = {
      segment: name,
      atByte: replay.corruptAt,
      droppedBytes: replay.fileBytes - replay.corruptAt,
    };
    config.logger.warn(
      { dir: disk.dir, ...report.truncated },
      'commit log ended in a torn record; truncated it',
    );
  }
  return { maxSeq, newestSegmentId };
}

/** Runs `operation`, turning a synchronous throw into a rejected promise. */
function runAsync<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return operation();
  } catch (error) {
    return Promise.reject(error);
  }
}

function closedError(): StorageError {
  return new StorageError('KV_ERR_CLOSED');
}

/** The platform's directory lock (fs/directory-lock.ts states its policy), refusing with KV_ERR_LOCKED. */
function lockDirectory(dir: string): DirectoryLock {
  return DirectoryLock.acquire(dir, {
    lockedError: ({ dir: locked, pid, message }) =>
      new StorageError('KV_ERR_LOCKED', message, { dir: locked, ...(pid === undefined ? {} : { pid }) }),
  });
}
