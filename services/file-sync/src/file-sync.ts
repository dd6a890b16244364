import { Readable } from 'node:stream';
import { type BlockRef, blocksInRange, sha256Hex } from './domain/blocks.js';
import { Chunker, type ChunkingOptions } from './domain/chunker.js';
import {
  BlockNotFoundError,
  CorruptBlockError,
  FileNotFoundError,
  FileTooLargeError,
  HashMismatchError,
  QuotaExceededError,
} from './domain/errors.js';
import type { BlockStore } from './store/block-store.js';
import type { ChangeNotifier } from './store/change-notifier.js';
import type { CommitResult, FileView, MetadataStore, RevisionView } from './store/metadata.js';

/**
 * The service's operations, over the metadata store and the block store: what the routes call.
 * The server never trusts a client's hash: every block's SHA-256 is computed here from the bytes.
 */

/** Blocks of one whole-file upload being hashed, compressed and written at once. */
const BLOCKS_IN_FLIGHT = 4;

export interface FileSyncLimits {
  quotaBytes: number;
  maxStoredBytes: number;
  maxFileBytes: number;
  keepRevisions: number;
}

export interface FileSyncDeps {
  metadata: MetadataStore;
  blocks: BlockStore;
  notifier: ChangeNotifier;
  limits: FileSyncLimits;
  chunking: ChunkingOptions;
  now: () => Date;
  observer?: FileSyncObserver;
}

export interface FileSyncObserver {
  blockUploaded(result: 'stored' | 'deduplicated', bytes: number, storedBytes: number): void;
  committed(result: 'committed' | 'conflict' | 'replayed'): void;
}

export interface ContentRead {
  revision: RevisionView;
  /** The bytes served: the whole file or the range. */
  body: Readable;
  range?: { start: number; end: number };
}

export class FileSync {
  constructor(private readonly deps: FileSyncDeps) {}

  /** Which of `hashes` this user still has to upload. */
  async missingBlocks(userId: string, hashes: readonly string[]): Promise<string[]> {
    const held = await this.deps.metadata.heldBlocks(userId, hashes);
    return [...new Set(hashes)].filter((hash) => !held.has(hash));
  }

  /** Stores a block after checking its bytes hash to `claimedHash`; stored once across users. */
  async uploadBlock(
    userId: string,
    claimedHash: string,
    bytes: Uint8Array,
  ): Promise<'stored' | 'deduplicated'> {
    const actual = sha256Hex(bytes);
    if (actual !== claimedHash) throw new HashMismatchError(claimedHash, actual);
    const { metadata, limits } = this.deps;
    const usage = await metadata.usage(userId);
    if (usage.usedBytes + bytes.byteLength > limits.quotaBytes) {
      throw new QuotaExceededError(usage.usedBytes, limits.quotaBytes);
    }
    if (await metadata.reserveBlock(userId, actual, bytes.byteLength, this.deps.now())) {
      this.deps.observer?.blockUploaded('deduplicated', bytes.byteLength, 0);
      return 'deduplicated';
    }
    await metadata.checkStorage(bytes.byteLength, limits.maxStoredBytes);
    const stored = await this.deps.blocks.write(actual, bytes);
    await metadata.markStored(userId, actual, bytes.byteLength, stored, this.deps.now(), () =>
      this.deps.blocks.write(actual, bytes),
    );
    this.deps.observer?.blockUploaded('stored', bytes.byteLength, stored.storedSize);
    return 'stored';
  }

  async commit(
    userId: string,
    input: { path: string; parentRevision: string | null; blocks: BlockRef[]; device: string },
  ): Promise<CommitResult> {
    const size = input.blocks.reduce((total, block) => total + block.size, 0);
    if (size > this.deps.limits.maxFileBytes) throw new FileTooLargeError(this.deps.limits.maxFileBytes);
    const result = await this.deps.metadata.commit(
      { userId, ...input, now: this.deps.now() },
      { quotaBytes: this.deps.limits.quotaBytes, keepRevisions: this.deps.limits.keepRevisions },
    );
    this.deps.observer?.committed(result.replayed ? 'replayed' : result.conflict ? 'conflict' : 'committed');
    if (!result.replayed) this.deps.notifier.changed(userId);
    return result;
  }

  /**
   * A whole file in one request: the server chunks it, stores each block, and commits. Blocks are
   * stored as they arrive, so a request cut off midway leaves only unreferenced blocks (collected
   * after the grace period, or reused by the retry) and never a partial file.
   */
  async putContent(
    userId: string,
    input: { path: string; parentRevision: string | null; device: string; body: AsyncIterable<Uint8Array> },
  ): Promise<CommitResult> {
    const chunker = new Chunker(this.deps.chunking);
    const blocks: BlockRef[] = [];
    // Hashing, compressing and writing run in the thread pool: a few blocks in flight keep both
    // the cores and the disk busy. The list keeps the file's order whatever finishes first.
    const inFlight = new Set<Promise<void>>();
    const store = async (parts: Uint8Array[]) => {
      for (const part of parts) {
        const hash = sha256Hex(part);
        blocks.push({ hash, size: part.byteLength });
        const storing = this.uploadBlock(userId, hash, part).then(() => {
          inFlight.delete(storing);
        });
        // Handled here so a failure between two awaits is never an unhandled rejection; it is
        // still thrown below, where the set is awaited.
        storing.catch(() => undefined);
        inFlight.add(storing);
        if (inFlight.size >= BLOCKS_IN_FLIGHT) await Promise.race(inFlight);
      }
    };
    let size = 0;
    try {
      for await (const bytes of input.body) {
        size += bytes.byteLength;
        if (size > this.deps.limits.maxFileBytes) throw new FileTooLargeError(this.deps.limits.maxFileBytes);
        await store(chunker.push(bytes));
      }
      await store(chunker.finish());
    } finally {
      // No block is left writing after the answer, whether the upload failed or not.
      await Promise.allSettled(inFlight);
    }
    // A block that failed fails the upload (its rejection is kept by the set's promise).
    await Promise.all(inFlight);
    return this.commit(userId, {
      path: input.path,
      parentRevision: input.parentRevision,
      blocks,
      device: input.device,
    });
  }

  async deleteFile(userId: string, path: string, parentRevision: string | undefined): Promise<FileView> {
    const deleted = await this.deps.metadata.deleteFile(userId, path, parentRevision, this.deps.now());
    this.deps.notifier.changed(userId);
    return deleted;
  }

  /** Makes an old revision the head again, as a new revision (history is never rewritten). */
  async restore(userId: string, path: string, revisionId: string, device: string): Promise<CommitResult> {
    const file = await this.deps.metadata.file(userId, path);
    if (file === undefined) throw new FileNotFoundError(path);
    const revision = await this.deps.metadata.revision(userId, path, revisionId);
    return this.commit(userId, { path, parentRevision: file.head.id, blocks: revision.blocks, device });
  }

  async fileOf(
    userId: string,
    path: string,
    revisionId?: string,
  ): Promise<{ file: FileView; revision: RevisionView }> {
    const file = await this.deps.metadata.file(userId, path);
    if (file === undefined) throw new FileNotFoundError(path);
    if (revisionId !== undefined) {
      return { file, revision: await this.deps.metadata.revision(userId, path, revisionId) };
    }
    if (file.deleted) throw new FileNotFoundError(path);
    return { file, revision: file.head };
  }

  /** The bytes of a revision (default: the head), or of `range` of it. */
  async readContent(
    userId: string,
    path: string,
    options: { revisionId?: string; range?: { start: number; end: number } },
  ): Promise<ContentRead> {
    const { revision } = await this.fileOf(userId, path, options.revisionId);
    const range = options.range;
    const parts = range
      ? blocksInRange(revision.blocks, range.start, range.end)
      : revision.blocks
          .filter((block) => block.size > 0)
          .map((block) => ({ block, from: 0, to: block.size - 1 }));
    const compression = await this.deps.metadata.compressionOf(parts.map((part) => part.block.hash));
    const blocks = this.deps.blocks;
    async function* bytes(): AsyncGenerator<Uint8Array> {
      for (const part of parts) {
        const codec = compression.get(part.block.hash);
        if (codec === undefined) throw new CorruptBlockError(part.block.hash);
        const block = await blocks.read(part.block.hash, codec);
        yield block.subarray(part.from, part.to + 1);
      }
    }
    return { revision, body: Readable.from(bytes()), ...(range ? { range } : {}) };
  }

  list(userId: string, options: { prefix: string; after: string; limit: number }): Promise<FileView[]> {
    return this.deps.metadata.listFiles(userId, options);
  }

  revisions(userId: string, path: string): Promise<RevisionView[]> {
    return this.deps.metadata.revisions(userId, path);
  }

  async readBlock(userId: string, hash: string): Promise<Uint8Array> {
    const block = await this.deps.metadata.blockOf(userId, hash);
    if (block === undefined) throw new BlockNotFoundError(hash);
    return this.deps.blocks.read(hash, block.compression);
  }
}
