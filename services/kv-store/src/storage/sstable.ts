import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { BloomFilter } from '@sysdesign/platform';
import type { Disk } from './disk.js';
import { crc32, kindCode, kindFromCode, readUint64, type StoredEntry, writeUint64 } from './entry.js';
import { corruption } from './errors.js';
import type { IoLimiter } from './io-limiter.js';

/**
 * SSTables: immutable files of entries sorted by key, one version per key.
 *
 *   [data block 0] ... [data block n-1] [index] [bloom] [meta] [footer]
 *
 * - data block: entries back to back, then `entryCount u32` and `crc32 u32` (of everything
 *   before the crc). Entry: keyLength u16, kind u8, seq u64, timestamp u64, valueLength u32, key,
 *   value. A block closes before it would pass `blockBytes`, so only an entry larger than
 *   `blockBytes` makes a larger block.
 * - index (the sparse index: one line per block, not per key): blockCount u32, then per block
 *   offset u64, length u32, lastKeyLength u16, lastKey; then crc32 u32.
 * - bloom: the platform BloomFilter's bytes over every key's UTF-8, then crc32 u32.
 * - meta: UTF-8 JSON (`TableMeta`), then crc32 u32.
 * - footer, 52 bytes: indexOffset u64, indexLength u32, bloomOffset u64, bloomLength u32,
 *   metaOffset u64, metaLength u32, formatVersion u32, crc32 u32 of the 40 bytes before it,
 *   magic "KVSSTBL1". Lengths include each region's crc.
 *
 * All integers are big-endian. A table is written to `sst-<id>.sst.tmp`, fsynced, renamed to
 * `sst-<id>.sst` and the directory fsynced, so a table file either exists whole or not at all;
 * it is live only once the manifest lists it.
 */

export const TABLE_FORMAT_VERSION = 1;
export const FOOTER_BYTES = 52;
const MAGIC = Buffer.from('KVSSTBL1', 'ascii');
const ENTRY_FIXED_BYTES = 23;
const BLOCK_TRAILER_BYTES = 8;
/** Blocks are written in groups of about this many bytes: fewer system calls. */
const WRITE_CHUNK_BYTES = 256 * 1024;
/** Sequential readers read this many bytes of consecutive blocks per system call. */
const CURSOR_READ_AHEAD_BYTES = 256 * 1024;
const RANGE_READ_AHEAD_BYTES = 64 * 1024;
/** Block numbers share a cache key with the table id; 2^24 blocks of 4 KiB is a 64 GiB table. */
const MAX_BLOCKS_PER_TABLE = 2 ** 24;

const TABLE_NAME = /^sst-(\d{12})\.sst$/;

export function tableFileName(id: number): string {
  return `sst-${String(id).padStart(12, '0')}.sst`;
}

export function parseTableFileName(name: string): number | undefined {
  const match = TABLE_NAME.exec(name);
  return match === null ? undefined : Number(match[1]);
}

/** Why a table exists: a memtable flush, a size-tiered merge, or a tombstone purge of one table. */
export type TableOrigin = 'flush' | 'compaction' | 'tombstone-compaction';

export interface TableMeta {
  format: number;
  id: number;
  entries: number;
  tombstones: number;
  minSeq: number;
  maxSeq: number;
  minKey: string;
  maxKey: string;
  blocks: number;
  createdAtMs: number;
  origin: TableOrigin;
  bloomFalsePositiveRate: number;
}

/** A data block, decoded: keys for binary search, entries whose values point into the block. */
export interface DecodedBlock {
  keys: string[];
  entries: StoredEntry[];
  bytes: number;
}

/** The most recently used decoded blocks of every table of one engine, bounded in bytes. */
export class BlockCache {
  private readonly blocks = new Map<number, DecodedBlock>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly capacityBytes: number) {}

  get(tableId: number, block: number): DecodedBlock | undefined {
    if (this.capacityBytes === 0) return undefined;
    const key = tableId * MAX_BLOCKS_PER_TABLE + block;
    const found = this.blocks.get(key);
    if (found === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.blocks.delete(key);
    this.blocks.set(key, found);
    return found;
  }

  set(tableId: number, block: number, decoded: DecodedBlock): void {
    if (decoded.bytes > this.capacityBytes) return;
    const key = tableId * MAX_BLOCKS_PER_TABLE + block;
    const previous = this.blocks.get(key);
    if (previous !== undefined) {
      this.blocks.delete(key);
      this.bytes -= previous.bytes;
    }
    this.blocks.set(key, decoded);
    this.bytes += decoded.bytes;
    for (const [oldest, block] of this.blocks) {
      if (this.bytes <= this.capacityBytes) break;
      this.blocks.delete(oldest);
      this.bytes -= block.bytes;
    }
  }

  get usedBytes(): number {
    return this.bytes;
  }
}

export interface TableWriterOptions {
  blockBytes: number;
  bloomFalsePositiveRate: number;
  /** An upper bound on the entries to come: sizes the bloom filter. */
  expectedEntries: number;
  origin: TableOrigin;
  createdAtMs: number;
  limiter?: IoLimiter;
}

/**
 * Writes one table from entries given in strictly increasing key order. Blocks are built in
 * place in one output buffer, written out about every WRITE_CHUNK_BYTES: no buffer per block.
 */
export class TableWriter {
  private chunk: Buffer;
  /** Bytes of sealed blocks at the start of `chunk`; the open block follows them. */
  private chunkUsed = 0;
  /** Bytes of entries in the open block. */
  private blockUsed = 0;
  private blockEntries = 0;
  /** File offset of `chunk[0]`. */
  private position = 0;
  private readonly lastKeys: string[] = [];
  private readonly offsets: number[] = [];
  private readonly lengths: number[] = [];
  private readonly bloom: BloomFilter;
  private count = 0;
  private tombstones = 0;
  private minSeq = Number.POSITIVE_INFINITY;
  private maxSeq = 0;
  private minKey = '';
  private maxKey = '';

  private constructor(
    readonly id: number,
    private readonly disk: Disk,
    private readonly handle: FileHandle,
    private readonly temporaryPath: string,
    private readonly options: TableWriterOptions,
  ) {
    this.chunk = Buffer.allocUnsafe(WRITE_CHUNK_BYTES + 2 * options.blockBytes + BLOCK_TRAILER_BYTES);
    this.bloom = BloomFilter.create({
      expectedKeys: Math.max(1, options.expectedEntries),
      falsePositiveRate: options.bloomFalsePositiveRate,
    });
  }

  static async create(disk: Disk, id: number, options: TableWriterOptions): Promise<TableWriter> {
    const temporaryPath = join(disk.dir, `${tableFileName(id)}.tmp`);
    const handle = await disk.open(temporaryPath, 'w');
    return new TableWriter(id, disk, handle, temporaryPath, options);
  }

  get entryCount(): number {
    return this.count;
  }

  /** True when enough blocks are buffered that the caller must `await drain()` before adding more. */
  get needsDrain(): boolean {
    return this.chunkUsed >= WRITE_CHUNK_BYTES;
  }

  add(entry: StoredEntry): void {
    if (this.count > 0 && !(entry.key > this.maxKey)) {
      throw new Error(
        `table ${this.id}: key ${JSON.stringify(entry.key)} is not after ${JSON.stringify(this.maxKey)}`,
      );
    }
    const keyLength = Buffer.byteLength(entry.key, 'utf8');
    const size = ENTRY_FIXED_BYTES + keyLength + entry.value.byteLength;
    if (this.blockEntries > 0 && this.blockUsed + size > this.options.blockBytes) this.sealBlock();
    this.reserve(size + BLOCK_TRAILER_BYTES);
    const chunk = this.chunk;
    let offset = this.chunkUsed + this.blockUsed;
    chunk.writeUInt16BE(keyLength, offset);
    chunk.writeUInt8(kindCode(entry.kind), offset + 2);
    writeUint64(chunk, entry.seq, offset + 3);
    writeUint64(chunk, entry.timestampMs, offset + 11);
    chunk.writeUInt32BE(entry.value.byteLength, offset + 19);
    offset += ENTRY_FIXED_BYTES;
    chunk.write(entry.key, offset, keyLength, 'utf8');
    this.bloom.add(chunk.subarray(offset, offset + keyLength));
    chunk.set(entry.value, offset + keyLength);
    this.blockUsed += size;
    this.blockEntries++;
    if (this.count === 0) this.minKey = entry.key;
    this.maxKey = entry.key;
    this.count++;
    if (entry.kind === 'tombstone') this.tombstones++;
    if (entry.seq < this.minSeq) this.minSeq = entry.seq;
    if (entry.seq > this.maxSeq) this.maxSeq = entry.seq;
  }

  /** Writes the sealed blocks to the file; the open block moves to the front of the buffer. */
  async drain(): Promise<void> {
    if (this.chunkUsed === 0) return;
    const bytes = this.chunkUsed;
    await this.options.limiter?.consume(bytes);
    await writeAll(this.handle, this.chunk.subarray(0, bytes), this.position);
    this.position += bytes;
    this.chunk.copy(this.chunk, 0, bytes, bytes + this.blockUsed);
    this.chunkUsed = 0;
  }

  /** Writes index, bloom, meta and footer, makes the file durable and moves it into place. */
  async finish(): Promise<void> {
    if (this.count === 0) throw new Error(`table ${this.id}: a table needs at least one entry`);
    if (this.blockEntries > 0) this.sealBlock();
    await this.drain();
    const meta: TableMeta = {
      format: TABLE_FORMAT_VERSION,
      id: this.id,
      entries: this.count,
      tombstones: this.tombstones,
      minSeq: this.minSeq,
      maxSeq: this.maxSeq,
      minKey: this.minKey,
      maxKey: this.maxKey,
      blocks: this.offsets.length,
      createdAtMs: this.options.createdAtMs,
      origin: this.options.origin,
      bloomFalsePositiveRate: this.options.bloomFalsePositiveRate,
    };
    const index = withCrc(encodeIndex(this.offsets, this.lengths, this.lastKeys));
    const bloom = withCrc(Buffer.from(this.bloom.toBytes()));
    const metaBytes = withCrc(Buffer.from(JSON.stringify(meta), 'utf8'));
    const indexOffset = this.position;
    const bloomOffset = indexOffset + index.length;
    const metaOffset = bloomOffset + bloom.length;
    const footer = encodeFooter([
      indexOffset,
      index.length,
      bloomOffset,
      bloom.length,
      metaOffset,
      metaBytes.length,
    ]);
    const tail = Buffer.concat([index, bloom, metaBytes, footer]);
    await writeAll(this.handle, tail, this.position);
    this.position += tail.length;
    await this.handle.datasync();
    await this.disk.close(this.handle);
    await this.disk.rename(this.temporaryPath, join(this.disk.dir, tableFileName(this.id)));
    await this.disk.syncDir();
  }

  /** Gives up on the table: closes and deletes the temporary file. */
  async abort(): Promise<void> {
    await this.disk.close(this.handle).catch(() => {});
    await this.disk.unlink(this.temporaryPath).catch(() => {});
  }

  private sealBlock(): void {
    if (this.offsets.length >= MAX_BLOCKS_PER_TABLE) throw new Error(`table ${this.id} has too many blocks`);
    const chunk = this.chunk;
    const start = this.chunkUsed;
    const trailer = start + this.blockUsed;
    chunk.writeUInt32BE(this.blockEntries, trailer);
    chunk.writeUInt32BE(crc32(chunk.subarray(start, trailer + 4)), trailer + 4);
    const length = this.blockUsed + BLOCK_TRAILER_BYTES;
    this.offsets.push(this.position + start);
    this.lengths.push(length);
    this.lastKeys.push(this.maxKey);
    this.chunkUsed += length;
    this.blockUsed = 0;
    this.blockEntries = 0;
  }

  /** Makes room for `bytes` more after the open block, growing the buffer for large values. */
  private reserve(bytes: number): void {
    const needed = this.chunkUsed + this.blockUsed + bytes;
    if (needed <= this.chunk.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.chunk.length * 2));
    this.chunk.copy(grown, 0, 0, this.chunkUsed + this.blockUsed);
    this.chunk = grown;
  }
}

async function writeAll(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < buffer.length) {
    const result = await handle.write(buffer, written, buffer.length - written, position + written);
    written += result.bytesWritten;
  }
}

function withCrc(payload: Buffer): Buffer {
  const region = Buffer.allocUnsafe(payload.length + 4);
  payload.copy(region);
  region.writeUInt32BE(crc32(payload), payload.length);
  return region;
}

function encodeIndex(offsets: number[], lengths: number[], lastKeys: string[]): Buffer {
  let size = 4;
  const keyBuffers = lastKeys.map((key) => Buffer.from(key, 'utf8'));
  for (const key of keyBuffers) size += 14 + key.length;
  const buffer = Buffer.allocUnsafe(size);
  buffer.writeUInt32BE(offsets.length, 0);
  let offset = 4;
  for (let block = 0; block < offsets.length; block++) {
    const key = keyBuffers[block]!;
    writeUint64(buffer, offsets[block]!, offset);
    buffer.writeUInt32BE(lengths[block]!, offset + 8);
    buffer.writeUInt16BE(key.length, offset + 12);
    key.copy(buffer, offset + 14);
    offset += 14 + key.length;
  }
  return buffer;
}

function encodeFooter(fields: [number, number, number, number, number, number]): Buffer {
  const footer = Buffer.allocUnsafe(FOOTER_BYTES);
  writeUint64(footer, fields[0], 0);
  footer.writeUInt32BE(fields[1], 8);
  writeUint64(footer, fields[2], 12);
  footer.writeUInt32BE(fields[3], 20);
  writeUint64(footer, fields[4], 24);
  footer.writeUInt32BE(fields[5], 32);
  footer.writeUInt32BE(TABLE_FORMAT_VERSION, 36);
  footer.writeUInt32BE(crc32(footer.subarray(0, 40)), 40);
  MAGIC.copy(footer, 44);
  return footer;
}

/** An open table: footer, sparse index, bloom filter and meta in memory; blocks read on demand. */
export class Table {
  /** Live versions that include this table, plus in-flight operations holding it. */
  private refs = 0;
  private obsolete = false;
  private closing = false;
  private resolveClosed!: () => void;
  /** Resolves once the last reference is dropped and the file is closed (and deleted if obsolete). */
  readonly closed = new Promise<void>((resolve) => {
    this.resolveClosed = resolve;
  });

  private constructor(
    readonly meta: TableMeta,
    readonly fileBytes: number,
    readonly path: string,
    private readonly disk: Disk,
    private readonly handle: FileHandle,
    private readonly bloom: BloomFilter,
    private readonly lastKeys: string[],
    private readonly offsets: number[],
    private readonly lengths: number[],
    private readonly cache: BlockCache,
  ) {}

  get id(): number {
    return this.meta.id;
  }

  /** Opens and checks a table's footer, index, bloom filter and meta. */
  static async open(disk: Disk, id: number, cache: BlockCache): Promise<Table> {
    const name = tableFileName(id);
    const path = join(disk.dir, name);
    const handle = await disk.open(path, 'r');
    try {
      const fileBytes = (await handle.stat()).size;
      if (fileBytes < FOOTER_BYTES) throw corruption(name, 0, 'file shorter than a footer');
      const footer = await readExactly(handle, name, fileBytes - FOOTER_BYTES, FOOTER_BYTES);
      const footerOffset = fileBytes - FOOTER_BYTES;
      if (!footer.subarray(44).equals(MAGIC)) throw corruption(name, footerOffset, 'bad magic number');
      if (crc32(footer.subarray(0, 40)) !== footer.readUInt32BE(40))
        throw corruption(name, footerOffset, 'footer checksum mismatch');
      if (footer.readUInt32BE(36) !== TABLE_FORMAT_VERSION)
        throw corruption(name, footerOffset, 'unknown format version');
      const region = async (offset: number, length: number, what: string) => {
        if (length < 4 || offset + length > footerOffset)
          throw corruption(name, offset, `${what} out of bounds`);
        const bytes = await readExactly(handle, name, offset, length);
        const payload = bytes.subarray(0, length - 4);
        if (crc32(payload) !== bytes.readUInt32BE(length - 4))
          throw corruption(name, offset, `${what} checksum mismatch`);
        return payload;
      };
      const indexOffset = readUint64(footer, 0);
      const index = decodeIndex(
        await region(indexOffset, footer.readUInt32BE(8), 'index'),
        name,
        indexOffset,
      );
      const bloomBytes = await region(readUint64(footer, 12), footer.readUInt32BE(20), 'bloom filter');
      const metaBytes = await region(readUint64(footer, 24), footer.readUInt32BE(32), 'meta');
      const meta = JSON.parse(metaBytes.toString('utf8')) as TableMeta;
      if (meta.id !== id || meta.blocks !== index.offsets.length)
        throw corruption(name, 0, 'meta does not match the file');
      const bloom = BloomFilter.fromBytes(new Uint8Array(bloomBytes));
      return new Table(
        meta,
        fileBytes,
        path,
        disk,
        handle,
        bloom,
        index.lastKeys,
        index.offsets,
        index.lengths,
        cache,
      );
    } catch (error) {
      await disk.close(handle);
      throw error;
    }
  }

  /** False means the key is certainly not in this table. */
  mayContain(keyBytes: Uint8Array): boolean {
    return this.bloom.mightContain(keyBytes);
  }

  /** The table's version of `key`, if it has one. Call `mayContain` first: it is free. */
  async get(key: string): Promise<StoredEntry | undefined> {
    const blockIndex = lowerBound(this.lastKeys, key);
    if (blockIndex === this.lastKeys.length) return undefined;
    const block = await this.readBlock(blockIndex, true);
    const position = lowerBound(block.keys, key);
    return block.keys[position] === key ? block.entries[position] : undefined;
  }

  /** Up to `limit` entries with `start <= key < end`, in key order. Reads ahead; does not fill the cache. */
  async range(start: string | undefined, end: string | undefined, limit: number): Promise<StoredEntry[]> {
    const result: StoredEntry[] = [];
    let blockIndex = start === undefined ? 0 : lowerBound(this.lastKeys, start);
    while (blockIndex < this.lastKeys.length && result.length < limit) {
      const blocks = await this.readBlocks(blockIndex, RANGE_READ_AHEAD_BYTES);
      for (const block of blocks) {
        let position = start === undefined ? 0 : lowerBound(block.keys, start);
        for (; position < block.keys.length && result.length < limit; position++) {
          if (end !== undefined && block.keys[position]! >= end) return result;
          result.push(block.entries[position]!);
        }
        blockIndex++;
      }
    }
    return result;
  }

  /** A cursor over every entry, for compaction: reads through the limiter, bypasses the cache. */
  cursor(limiter: IoLimiter | undefined, checkContinue: () => void): TableCursor {
    return new TableCursor(this, limiter, checkContinue);
  }

  get blockCount(): number {
    return this.lastKeys.length;
  }

  blockLength(blockIndex: number): number {
    return this.lengths[blockIndex]!;
  }

  /** Reads, checks and decodes one block, from the cache when it is there. */
  async readBlock(blockIndex: number, fillCache: boolean): Promise<DecodedBlock> {
    const cached = this.cache.get(this.id, blockIndex);
    if (cached !== undefined) return cached;
    const offset = this.offsets[blockIndex]!;
    const name = tableFileName(this.id);
    const bytes = await readExactly(this.handle, name, offset, this.lengths[blockIndex]!);
    const decoded = decodeBlock(bytes, name, offset);
    if (fillCache) this.cache.set(this.id, blockIndex, decoded);
    return decoded;
  }

  /**
   * Reads the consecutive blocks from `first` that fit in `maxBytes` (at least one) with one
   * read: sequential readers (compaction, scans) pay one system call per run of blocks, not per block.
   */
  async readBlocks(first: number, maxBytes: number): Promise<DecodedBlock[]> {
    let last = first;
    let bytes = this.lengths[first]!;
    while (last + 1 < this.lengths.length && bytes + this.lengths[last + 1]! <= maxBytes) {
      last++;
      bytes += this.lengths[last]!;
    }
    const name = tableFileName(this.id);
    const start = this.offsets[first]!;
    const buffer = await readExactly(this.handle, name, start, bytes);
    const blocks: DecodedBlock[] = [];
    for (let block = first; block <= last; block++) {
      const offset = this.offsets[block]! - start;
      blocks.push(
        decodeBlock(buffer.subarray(offset, offset + this.lengths[block]!), name, this.offsets[block]!),
      );
    }
    return blocks;
  }

  /** Bytes of the blocks `readBlocks(first, maxBytes)` would read. */
  spanBytes(first: number, maxBytes: number): number {
    let last = first;
    let bytes = this.lengths[first]!;
    while (last + 1 < this.lengths.length && bytes + this.lengths[last + 1]! <= maxBytes) {
      last++;
      bytes += this.lengths[last]!;
    }
    return bytes;
  }

  ref(): void {
    this.refs++;
  }

  /** Drops a reference; the last one closes the file, and deletes it if compaction replaced it. */
  unref(onClosed: (table: Table, error?: unknown) => void): void {
    this.refs--;
    if (this.refs > 0 || this.closing) return;
    this.closing = true;
    void (async () => {
      try {
        await this.disk.close(this.handle);
        if (this.obsolete) await this.disk.unlink(this.path);
        onClosed(this);
      } catch (error) {
        onClosed(this, error);
      } finally {
        this.resolveClosed();
      }
    })();
  }

  /** Compaction replaced this table: delete the file once nobody reads it. */
  markObsolete(): void {
    this.obsolete = true;
  }
}

/** Walks a table's entries in order, reading ahead a run of blocks at a time. */
export class TableCursor {
  entry: StoredEntry | undefined;
  private blocks: DecodedBlock[] = [];
  private block: DecodedBlock | undefined;
  private nextBlockIndex = 0;
  private position = -1;

  constructor(
    private readonly table: Table,
    private readonly limiter: IoLimiter | undefined,
    private readonly checkContinue: () => void,
  ) {}

  /**
   * Moves to the next entry (`entry` is undefined past the end). Returns a promise only when
   * the next entry needs a disk read, so a merge loop awaits once per run of blocks, not per entry.
   */
  advance(): Promise<void> | undefined {
    this.position++;
    if (this.block !== undefined && this.position < this.block.entries.length) {
      this.entry = this.block.entries[this.position];
      return undefined;
    }
    const buffered = this.blocks.shift();
    if (buffered !== undefined) {
      this.enter(buffered);
      return undefined;
    }
    if (this.nextBlockIndex >= this.table.blockCount) {
      this.block = undefined;
      this.entry = undefined;
      return undefined;
    }
    return this.load();
  }

  private async load(): Promise<void> {
    this.checkContinue();
    const first = this.nextBlockIndex;
    await this.limiter?.consume(this.table.spanBytes(first, CURSOR_READ_AHEAD_BYTES));
    this.blocks = await this.table.readBlocks(first, CURSOR_READ_AHEAD_BYTES);
    this.nextBlockIndex = first + this.blocks.length;
    this.enter(this.blocks.shift()!);
  }

  private enter(block: DecodedBlock): void {
    this.block = block;
    this.position = 0;
    this.entry = block.entries[0];
  }
}

async function readExactly(
  handle: FileHandle,
  name: string,
  offset: number,
  length: number,
): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const { bytesRead } = await handle.read(buffer, read, length - read, offset + read);
    if (bytesRead === 0) throw corruption(name, offset + read, 'unexpected end of file');
    read += bytesRead;
  }
  return buffer;
}

function decodeIndex(payload: Buffer, name: string, regionOffset: number) {
  const fail = () => corruption(name, regionOffset, 'malformed index');
  if (payload.length < 4) throw fail();
  const count = payload.readUInt32BE(0);
  const offsets: number[] = [];
  const lengths: number[] = [];
  const lastKeys: string[] = [];
  let offset = 4;
  for (let block = 0; block < count; block++) {
    if (offset + 14 > payload.length) throw fail();
    const keyLength = payload.readUInt16BE(offset + 12);
    if (offset + 14 + keyLength > payload.length) throw fail();
    offsets.push(readUint64(payload, offset));
    lengths.push(payload.readUInt32BE(offset + 8));
    lastKeys.push(payload.toString('utf8', offset + 14, offset + 14 + keyLength));
    offset += 14 + keyLength;
  }
  if (offset !== payload.length) throw fail();
  return { offsets, lengths, lastKeys };
}

function decodeBlock(bytes: Buffer, name: string, blockOffset: number): DecodedBlock {
  if (bytes.length < BLOCK_TRAILER_BYTES)
    throw corruption(name, blockOffset, 'block shorter than its trailer');
  const crcOffset = bytes.length - 4;
  if (crc32(bytes.subarray(0, crcOffset)) !== bytes.readUInt32BE(crcOffset)) {
    throw corruption(name, blockOffset, 'block checksum mismatch');
  }
  const count = bytes.readUInt32BE(crcOffset - 4);
  const end = crcOffset - 4;
  const keys: string[] = [];
  const entries: StoredEntry[] = [];
  let offset = 0;
  while (offset < end) {
    if (offset + ENTRY_FIXED_BYTES > end) throw corruption(name, blockOffset + offset, 'truncated entry');
    const keyLength = bytes.readUInt16BE(offset);
    const kind = kindFromCode(bytes.readUInt8(offset + 2));
    const valueLength = bytes.readUInt32BE(offset + 19);
    const keyStart = offset + ENTRY_FIXED_BYTES;
    const valueStart = keyStart + keyLength;
    if (kind === undefined || valueStart + valueLength > end)
      throw corruption(name, blockOffset + offset, 'malformed entry');
    const key = bytes.toString('utf8', keyStart, valueStart);
    keys.push(key);
    entries.push({
      key,
      kind,
      value: bytes.subarray(valueStart, valueStart + valueLength),
      seq: readUint64(bytes, offset + 3),
      timestampMs: readUint64(bytes, offset + 11),
    });
    offset = valueStart + valueLength;
  }
  if (entries.length !== count) throw corruption(name, blockOffset, 'entry count mismatch');
  return { keys, entries, bytes: bytes.length };
}

/** The first index whose key is >= `key` in a sorted array. */
function lowerBound(keys: readonly string[], key: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (keys[middle]! < key) low = middle + 1;
    else high = middle;
  }
  return low;
}
