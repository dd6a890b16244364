import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Disk } from './disk.js';
import {
  crc32,
  kindCode,
  kindFromCode,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES_LIMIT,
  readUint64,
  type StoredEntry,
  writeUint64,
} from './entry.js';

/**
 * The commit log: every write is appended here, as one self-checking record, before it is
 * acknowledged and before it reaches the memtable. The log is split into segments; a segment is
 * deleted once the memtable it fed has been flushed to an SSTable and the manifest says so.
 *
 * Record layout (big-endian):
 *
 *   crc32      u32   CRC-32 of every byte after this field (length through value)
 *   length     u32   bytes after this field: 23 + keyLength + valueLength
 *   kind       u8    1 = value, 2 = tombstone
 *   seq        u64   the write's sequence number
 *   timestamp  u64   milliseconds since the epoch
 *   keyLength  u16
 *   valueLength u32
 *   key        keyLength bytes of UTF-8
 *   value      valueLength bytes
 *
 * A crash can leave the last record of the newest segment half written; replay stops at the
 * first record whose length or checksum does not hold and truncates the segment there.
 */

export const LOG_RECORD_PREFIX_BYTES = 8;
export const LOG_RECORD_FIXED_BYTES = 23;
/** No record can be longer than this; a longer length field is corruption. */
const MAX_LOG_BODY_BYTES = LOG_RECORD_FIXED_BYTES + MAX_KEY_BYTES + MAX_VALUE_BYTES_LIMIT;
/** Replay reads segments in chunks of this size. */
const REPLAY_CHUNK_BYTES = 1024 * 1024;

const SEGMENT_NAME = /^log-(\d{12})\.wal$/;

export function segmentFileName(id: number): string {
  return `log-${String(id).padStart(12, '0')}.wal`;
}

export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  return match === null ? undefined : Number(match[1]);
}

export interface LogRecord {
  entry: StoredEntry;
  keyBytes: Buffer;
}

export function encodedRecordBytes(record: LogRecord): number {
  return (
    LOG_RECORD_PREFIX_BYTES + LOG_RECORD_FIXED_BYTES + record.keyBytes.length + record.entry.value.byteLength
  );
}

/** Encodes records back to back into one buffer: one write, one fsync for the whole group. */
export function encodeRecords(records: readonly LogRecord[]): Buffer {
  let total = 0;
  for (const record of records) total += encodedRecordBytes(record);
  const buffer = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const { entry, keyBytes } of records) {
    const start = offset;
    const length = LOG_RECORD_FIXED_BYTES + keyBytes.length + entry.value.byteLength;
    buffer.writeUInt32BE(length, start + 4);
    buffer.writeUInt8(kindCode(entry.kind), start + 8);
    writeUint64(buffer, entry.seq, start + 9);
    writeUint64(buffer, entry.timestampMs, start + 17);
    buffer.writeUInt16BE(keyBytes.length, start + 25);
    buffer.writeUInt32BE(entry.value.byteLength, start + 27);
    keyBytes.copy(buffer, start + 31);
    buffer.set(entry.value, start + 31 + keyBytes.length);
    offset = start + LOG_RECORD_PREFIX_BYTES + length;
    buffer.writeUInt32BE(crc32(buffer.subarray(start + 4, offset)), start);
  }
  return buffer;
}

/** One open, append-only segment file. */
export class LogSegment {
  private syncedBytes = 0;

  private constructor(
    readonly id: number,
    readonly path: string,
    private readonly disk: Disk,
    private readonly handle: FileHandle,
    /** Bytes written so far (the next record's offset). */
    public size: number,
  ) {}

  /** Creates a new, empty segment. The caller syncs the directory. */
  static async create(disk: Disk, id: number): Promise<LogSegment> {
    const path = join(disk.dir, segmentFileName(id));
    const handle = await disk.open(path, 'wx');
    return new LogSegment(id, path, disk, handle, 0);
  }

  get isDirty(): boolean {
    return this.syncedBytes < this.size;
  }

  async append(buffer: Buffer): Promise<void> {
    let written = 0;
    while (written < buffer.length) {
      const { bytesWritten } = await this.handle.write(
        buffer,
        written,
        buffer.length - written,
        this.size + written,
      );
      written += bytesWritten;
    }
    this.size += buffer.length;
  }

  /** fdatasync: the records written so far survive a power loss once this resolves. */
  async sync(): Promise<void> {
    const target = this.size;
    await this.handle.datasync();
    if (target > this.syncedBytes) this.syncedBytes = target;
  }

  async close(): Promise<void> {
    await this.disk.close(this.handle);
  }
}

export interface SegmentReplay {
  records: number;
  /** Bytes of whole, valid records from the start of the file. */
  validBytes: number;
  fileBytes: number;
  /** Offset of the first record that failed its length or checksum test, if any. */
  corruptAt?: number;
  maxSeq: number;
}

/**
 * Reads a segment from the start, calling `onEntry` for each valid record in order, and stops at
 * the end of the file or at the first record that does not check out.
 */
export async function replaySegment(
  disk: Disk,
  path: string,
  onEntry: (entry: StoredEntry, keyByteLength: number) => void,
): Promise<SegmentReplay> {
  const handle = await disk.open(path, 'r');
  try {
    const fileBytes = (await handle.stat()).size;
    const result: SegmentReplay = { records: 0, validBytes: 0, fileBytes, maxSeq: 0 };
    let pending = Buffer.alloc(0);
    let readPosition = 0;
    for (;;) {
      const parsed = parseRecords(pending, result, onEntry);
      if (parsed.corrupt) break;
      pending = pending.subarray(parsed.consumed);
      if (readPosition >= fileBytes) {
        if (pending.length > 0) result.corruptAt = result.validBytes;
        break;
      }
      const wanted = Math.max(REPLAY_CHUNK_BYTES, parsed.needed - pending.length);
      const chunk = Buffer.allocUnsafe(Math.min(wanted, fileBytes - readPosition));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, readPosition);
      readPosition += bytesRead;
      if (bytesRead === 0) readPosition = fileBytes;
      pending = Buffer.concat([pending, chunk.subarray(0, bytesRead)]);
    }
    return result;
  } finally {
    await disk.close(handle);
  }
}

interface ParseProgress {
  consumed: number;
  /** Bytes the next record needs in `pending` (when it is incomplete). */
  needed: number;
  corrupt: boolean;
}

function parseRecords(
  pending: Buffer,
  result: SegmentReplay,
  onEntry: (entry: StoredEntry, keyByteLength: number) => void,
): ParseProgress {
  let position = 0;
  while (pending.length - position >= LOG_RECORD_PREFIX_BYTES) {
    const length = pending.readUInt32BE(position + 4);
    if (length < LOG_RECORD_FIXED_BYTES || length > MAX_LOG_BODY_BYTES) {
      result.corruptAt = result.validBytes;
      return { consumed: position, needed: 0, corrupt: true };
    }
    const end = position + LOG_RECORD_PREFIX_BYTES + length;
    if (end > pending.length) return { consumed: position, needed: end - position, corrupt: false };
    const entry = decodeRecord(pending, position, end);
    if (entry === undefined) {
      result.corruptAt = result.validBytes;
      return { consumed: position, needed: 0, corrupt: true };
    }
    onEntry(entry, pending.readUInt16BE(position + 25));
    result.records++;
    result.validBytes += end - position;
    if (entry.seq > result.maxSeq) result.maxSeq = entry.seq;
    position = end;
  }
  return { consumed: position, needed: LOG_RECORD_PREFIX_BYTES, corrupt: false };
}

/** The record in `buffer[start, end)`, or undefined if its checksum or fields are wrong. */
function decodeRecord(buffer: Buffer, start: number, end: number): StoredEntry | undefined {
  if (crc32(buffer.subarray(start + 4, end)) !== buffer.readUInt32BE(start)) return undefined;
  const kind = kindFromCode(buffer.readUInt8(start + 8));
  const keyLength = buffer.readUInt16BE(start + 25);
  const valueLength = buffer.readUInt32BE(start + 27);
  const keyStart = start + 31;
  if (kind === undefined || keyLength === 0 || keyStart + keyLength + valueLength !== end) return undefined;
  return {
    key: buffer.toString('utf8', keyStart, keyStart + keyLength),
    kind,
    value: Uint8Array.prototype.slice.call(buffer, keyStart + keyLength, end),
    seq: readUint64(buffer, start + 9),
    timestampMs: readUint64(buffer, start + 17),
  };
}

/** Cuts a segment back to its valid prefix and makes the cut durable. */
export async function truncateSegment(disk: Disk, path: string, length: number): Promise<void> {
  const handle = await disk.open(path, 'r+');
  try {
    await handle.truncate(length);
    await handle.sync();
  } finally {
    await disk.close(handle);
  }
}
