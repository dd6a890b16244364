import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  truncateSync,
  unlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { fsyncDirectorySync, writeFully } from '../fs/index.js';
import { BusError, BusErrorCode, type BusHeaders, type BusLogger } from './port.js';
import { encodeRecordLine, type FsyncMode, scanRecordFile } from './record-file.js';

/**
 * One partition of an in-process topic: an append-only sequence of records split into segments.
 * Memory holds the retained records (what a consumer reads); with a directory, each segment is
 * also a file `<base offset, 20 digits>.log` that is appended before `append` returns and replayed
 * on open. Only whole sealed segments are deleted, oldest first, when every known group has read
 * past them or the partition exceeds its retention; the active segment is never deleted, so the
 * next offset always survives a restart.
 */

export interface StoredRecord {
  offset: number;
  timestamp: number;
  key: string;
  headers: Readonly<BusHeaders>;
  /** The value as JSON text: each delivery parses its own copy. */
  valueJson: string;
}

export interface PartitionLogLimits {
  /** A segment is sealed once it holds this many bytes. */
  segmentBytes: number;
  /** Sealed segments beyond this many bytes are deleted even if a group has not read them. */
  retentionBytes: number;
}

interface Segment {
  baseOffset: number;
  records: StoredRecord[];
  bytes: number;
  /** Absent in memory-only mode. */
  path: string | undefined;
}

interface Storage {
  dir: string;
  fsync: FsyncMode;
}

const SEGMENT_FILE = /^\d{20}\.log$/;
const OFFSET_DIGITS = 20;

function segmentFileName(baseOffset: number): string {
  return `${String(baseOffset).padStart(OFFSET_DIGITS, '0')}.log`;
}

function segmentEnd(segment: Segment): number {
  return segment.baseOffset + segment.records.length;
}

interface RecordOnDisk {
  o: number;
  t: number;
  k: string;
  h: BusHeaders;
  v: unknown;
}

function isRecordAt(value: unknown, offset: number): value is RecordOnDisk {
  const record = value as Partial<RecordOnDisk> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    record.o === offset &&
    typeof record.t === 'number' &&
    typeof record.k === 'string' &&
    typeof record.h === 'object' &&
    record.h !== null &&
    'v' in record
  );
}

export class PartitionLog {
  private totalBytes: number;
  private activeFd: number | undefined;
  /** Set when a failed write could not be undone: appending more would hide records behind garbage. */
  private broken: Error | undefined;

  private constructor(
    readonly label: string,
    private readonly segments: Segment[],
    private readonly limits: PartitionLogLimits,
    private readonly storage: Storage | undefined,
    private readonly logger: BusLogger,
  ) {
    this.totalBytes = segments.reduce((sum, segment) => sum + segment.bytes, 0);
    const active = segments.at(-1);
    if (storage && active?.path) this.activeFd = openSync(active.path, 'a');
  }

  static inMemory(label: string, limits: PartitionLogLimits, logger: BusLogger): PartitionLog {
    return new PartitionLog(
      label,
      [{ baseOffset: 0, records: [], bytes: 0, path: undefined }],
      limits,
      undefined,
      logger,
    );
  }

  /** Opens the partition kept in `dir`, recovering from a torn or corrupt tail. */
  static open(
    label: string,
    dir: string,
    fsync: FsyncMode,
    limits: PartitionLogLimits,
    logger: BusLogger,
  ): PartitionLog {
    mkdirSync(dir, { recursive: true });
    const segments = recoverSegments(label, dir, logger);
    if (segments.length === 0) {
      const path = join(dir, segmentFileName(0));
      closeSync(openSync(path, 'a'));
      if (fsync === 'always') fsyncDirectorySync(dir);
      segments.push({ baseOffset: 0, records: [], bytes: 0, path });
    }
    return new PartitionLog(label, segments, limits, { dir, fsync }, logger);
  }

  /** The oldest retained offset. */
  get startOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  /** The offset the next append gets. */
  get endOffset(): number {
    return segmentEnd(this.segments.at(-1)!);
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  get sizeBytes(): number {
    return this.totalBytes;
  }

  read(offset: number): StoredRecord | undefined {
    if (offset < this.startOffset || offset >= this.endOffset) return undefined;
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.segments[middle]!.baseOffset <= offset) low = middle;
      else high = middle - 1;
    }
    const segment = this.segments[low]!;
    return segment.records[offset - segment.baseOffset];
  }

  /** Appends a record; with a directory, it is in the file (page cache, or disk with fsync) on return. */
  append(entry: Omit<StoredRecord, 'offset'>): StoredRecord {
    if (this.broken) {
      throw new BusError(
        BusErrorCode.storage,
        `partition ${this.label} is unwritable: ${this.broken.message}`,
      );
    }
    const segment = this.segments.at(-1)!;
    const record: StoredRecord = { offset: this.endOffset, ...entry };
    const json = `{"o":${record.offset},"t":${record.timestamp},"k":${JSON.stringify(record.key)},"h":${JSON.stringify(record.headers)},"v":${record.valueJson}}`;
    let bytes = json.length;
    if (this.storage) {
      const line = encodeRecordLine(json);
      this.write(segment, line);
      bytes = line.length;
    }
    segment.records.push(record);
    segment.bytes += bytes;
    this.totalBytes += bytes;
    if (segment.bytes >= this.limits.segmentBytes) this.roll();
    return record;
  }

  private write(segment: Segment, line: Buffer): void {
    const fd = this.activeFd!;
    try {
      writeFully(fd, line);
      if (this.storage?.fsync === 'always') fsyncSync(fd);
    } catch (error) {
      // A partial line would end the valid prefix at recovery and hide every later record.
      try {
        ftruncateSync(fd, segment.bytes);
      } catch (truncateError) {
        this.broken = truncateError as Error;
      }
      throw new BusError(
        BusErrorCode.storage,
        `append to ${this.label} failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  /** Seals the active segment and starts the next one. A failure only postpones the roll. */
  private roll(): void {
    const baseOffset = this.endOffset;
    if (!this.storage) {
      this.segments.push({ baseOffset, records: [], bytes: 0, path: undefined });
      return;
    }
    const path = join(this.storage.dir, segmentFileName(baseOffset));
    let fd: number;
    try {
      fd = openSync(path, 'a');
      if (this.storage.fsync === 'always') fsyncDirectorySync(this.storage.dir);
    } catch (error) {
      this.logger.error(
        { err: error, partition: this.label },
        'could not start a new segment; the current one grows',
      );
      return;
    }
    closeSync(this.activeFd!);
    this.activeFd = fd;
    this.segments.push({ baseOffset, records: [], bytes: 0, path });
  }

  /**
   * Deletes sealed segments, oldest first, that every group has read (`consumedBefore` is the
   * lowest next offset over the known groups) or that exceed retention. Returns the count deleted.
   */
  trim(consumedBefore: number): number {
    let deleted = 0;
    while (this.segments.length > 1) {
      const consumed = this.segments[1]!.baseOffset <= consumedBefore;
      if (!consumed && this.totalBytes <= this.limits.retentionBytes) break;
      const oldest = this.segments.shift()!;
      this.totalBytes -= oldest.bytes;
      deleted++;
      if (oldest.path) this.unlink(oldest.path);
    }
    if (deleted > 0 && this.storage?.fsync === 'always') fsyncDirectorySync(this.storage.dir);
    return deleted;
  }

  private unlink(path: string): void {
    try {
      unlinkSync(path);
    } catch (error) {
      // The records are gone from memory; a leftover file only brings back old records on restart.
      this.logger.warn({ err: error, path }, 'could not delete an old segment file');
    }
  }

  close(): void {
    if (this.activeFd === undefined) return;
    closeSync(this.activeFd);
    this.activeFd = undefined;
  }
}

/** Replays the segment files of `dir` in order, keeping the valid prefix of the whole partition. */
function recoverSegments(label: string, dir: string, logger: BusLogger): Segment[] {
  const names = readdirSync(dir)
    .filter((name) => SEGMENT_FILE.test(name))
    .sort();
  const segments: Segment[] = [];
  let damaged = false;
  for (const name of names) {
    const path = join(dir, name);
    const baseOffset = Number(name.slice(0, OFFSET_DIGITS));
    const previous = segments.at(-1);
    if (damaged || (previous && segmentEnd(previous) !== baseOffset)) {
      // Past a damaged point the offsets no longer line up; keeping these would skip or repeat offsets.
      logger.error({ partition: label, path }, 'dropping a segment that follows damaged data');
      unlinkSync(path);
      damaged = true;
      continue;
    }
    const scan = scanRecordFile(path, (value, index) => isRecordAt(value, baseOffset + index));
    const records = scan.records.map(({ value }) => {
      const record = value as RecordOnDisk;
      return {
        offset: record.o,
        timestamp: record.t,
        key: record.k,
        headers: record.h,
        valueJson: JSON.stringify(record.v),
      };
    });
    if (scan.validBytes < scan.totalBytes) {
      logger.warn(
        { partition: label, path, droppedBytes: scan.totalBytes - scan.validBytes },
        'ignoring a torn or corrupt tail (a write cut short by a crash)',
      );
      truncateSync(path, scan.validBytes);
      damaged = true;
    }
    segments.push({ baseOffset, records, bytes: scan.validBytes, path });
  }
  return segments;
}
