import { closeSync, existsSync, fsyncSync, openSync, truncateSync } from 'node:fs';
import { writeFileAtomicSync, writeFully } from '../fs/index.js';
import { BusError, BusErrorCode, type BusLogger } from './port.js';
import { encodeRecordLine, type FsyncMode, scanRecordFile } from './record-file.js';

/**
 * A consumer group's committed positions in one topic: per partition, the next offset to deliver.
 * With a directory they live in `<group>.offsets`, a record file (see record-file.ts) of
 * `{"p":partition,"o":offset}` lines where the last line of a partition wins. Each commit appends
 * one line; after `COMPACT_AFTER_COMMITS` the file is rewritten as one line per partition
 * (temp file + rename), so it stays small and a crash mid-rewrite leaves the old file whole.
 */

export const COMPACT_AFTER_COMMITS = 10_000;

interface CommitOnDisk {
  p: number;
  o: number;
}

interface OffsetsFile {
  path: string;
  fd: number;
  fsync: FsyncMode;
  commitsSinceCompaction: number;
  /** A failed append may have left a partial line; the next commit rewrites the file whole. */
  needsCompaction: boolean;
}

export class GroupOffsets {
  private constructor(
    private readonly positions: number[],
    private file: OffsetsFile | undefined,
  ) {}

  static inMemory(positions: number[]): GroupOffsets {
    return new GroupOffsets([...positions], undefined);
  }

  /** Records a new group's starting positions, whole, before it consumes anything. */
  static create(path: string, positions: number[], fsync: FsyncMode): GroupOffsets {
    writeFileAtomicSync(path, snapshotOf(positions), { fsync: fsync === 'always' });
    return new GroupOffsets([...positions], openOffsetsFile(path, fsync));
  }

  /** The group recorded at `path`, or undefined if there is none. A torn last line is ignored. */
  static load(
    path: string,
    partitions: number,
    fsync: FsyncMode,
    logger: BusLogger,
  ): GroupOffsets | undefined {
    if (!existsSync(path)) return undefined;
    const scan = scanRecordFile(path, (value) => isCommit(value, partitions));
    if (scan.validBytes < scan.totalBytes) {
      logger.warn(
        { path, droppedBytes: scan.totalBytes - scan.validBytes },
        'ignoring a torn tail of a group offsets file',
      );
      truncateSync(path, scan.validBytes);
    }
    // A partition with no line (never written by this code) starts at the beginning of the log.
    const positions = new Array<number>(partitions).fill(0);
    for (const { value } of scan.records) {
      const commit = value as CommitOnDisk;
      positions[commit.p] = commit.o;
    }
    const offsets = new GroupOffsets(positions, openOffsetsFile(path, fsync));
    offsets.file!.commitsSinceCompaction = scan.records.length;
    return offsets;
  }

  get(partition: number): number {
    return this.positions[partition]!;
  }

  /** Moves the group's position in `partition`; with a file, written before it returns. */
  commit(partition: number, nextOffset: number): void {
    this.positions[partition] = nextOffset;
    const file = this.file;
    if (!file) return;
    try {
      if (file.needsCompaction || file.commitsSinceCompaction >= COMPACT_AFTER_COMMITS) {
        this.compact(file);
        return;
      }
      writeFully(file.fd, encodeRecordLine(JSON.stringify({ p: partition, o: nextOffset })));
      if (file.fsync === 'always') fsyncSync(file.fd);
      file.commitsSinceCompaction++;
    } catch (error) {
      file.needsCompaction = true;
      throw new BusError(
        BusErrorCode.storage,
        `could not record offsets in ${file.path}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  private compact(file: OffsetsFile): void {
    writeFileAtomicSync(file.path, snapshotOf(this.positions), { fsync: file.fsync === 'always' });
    closeSync(file.fd);
    this.file = openOffsetsFile(file.path, file.fsync);
  }

  close(): void {
    if (!this.file) return;
    closeSync(this.file.fd);
    this.file = undefined;
  }
}

function isCommit(value: unknown, partitions: number): value is CommitOnDisk {
  const commit = value as Partial<CommitOnDisk> | null;
  return (
    typeof commit === 'object' &&
    commit !== null &&
    Number.isInteger(commit.p) &&
    commit.p! >= 0 &&
    commit.p! < partitions &&
    Number.isInteger(commit.o) &&
    commit.o! >= 0
  );
}

function snapshotOf(positions: readonly number[]): Buffer {
  return Buffer.concat(
    positions.map((offset, partition) => encodeRecordLine(JSON.stringify({ p: partition, o: offset }))),
  );
}

function openOffsetsFile(path: string, fsync: FsyncMode): OffsetsFile {
  return { path, fd: openSync(path, 'a'), fsync, commitsSinceCompaction: 0, needsCompaction: false };
}
