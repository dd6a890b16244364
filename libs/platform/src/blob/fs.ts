import { createHash, randomUUID } from 'node:crypto';
import { constants, type Dirent } from 'node:fs';
import { access, type FileHandle, mkdir, open, readdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { DirectoryLock } from '../fs/directory-lock.js';
import { fsyncDirectory } from '../fs/durable.js';
import {
  assertBlobKey,
  type BlobInfo,
  type BlobPage,
  type BlobRead,
  type BlobStore,
  boundedChunks,
  DEFAULT_MAX_BLOB_BYTES,
  type GetOptions,
  type ListOptions,
  type ListParams,
  listParams,
  normaliseContentType,
  type PutOptions,
  pageOf,
  putLimitBytes,
  resolveRange,
} from './port.js';

/**
 * Blobs as files under one directory (`BLOB_DIR` in the embedded mode).
 *
 * Layout: `<dir>/objects/<segment>/.../<last segment>~blob` holds each blob, `<dir>/tmp/` holds
 * puts in progress. A key's segments become directories, so listing a prefix reads only the
 * directories on its path. Blob files end in `~`-something and directories never contain `~` (it
 * is outside the key charset), so keys `a` and `a/b` never fight over one name.
 *
 * One file per blob, metadata in a trailer after the content:
 *   content | metadata JSON {v, etag, contentType} | uint32 BE length of the JSON | "SDB1"
 * A separate metadata file could be renamed only before or after the content, so a reader could
 * pair new metadata with old content; one file makes a single rename switch both. A trailer
 * rather than a header because the etag is known only once all content has streamed by, and
 * content offsets then equal file offsets, so ranges need no arithmetic.
 *
 * A put streams into `tmp/<uuid>.tmp` (the same filesystem, so rename is atomic), fsyncs it,
 * renames it over the blob's file and fsyncs the directory. Readers see the old file or the new
 * one; a crash leaves the old blob or the new one plus perhaps an orphan in `tmp/`, which the next
 * open removes. Concurrent puts of one key each write their own temp file and the last rename
 * wins. A reader holds the file it opened, so an overwrite mid-read does not change what it reads.
 *
 * A directory belongs to one open store, held with the platform's directory lock (a `LOCK` file
 * beside `objects/`): opening it removes everything in `tmp/`, which would break another store's
 * puts in flight. Give each service its own (`<BLOB_DIR>/<service>`).
 * The filesystem must be case-sensitive (keys `A` and `a` differ).
 */

export interface FsBlobStoreOptions {
  dir: string;
  /** Store-wide cap on one blob. */
  maxBlobBytes?: number;
}

const BLOB_SUFFIX = '~blob';
const TEMP_SUFFIX = '.tmp';
const TRAILER_MAGIC = Buffer.from('SDB1', 'ascii');
/** Length field plus magic. */
const TRAILER_FIXED_BYTES = 8;
const MAX_METADATA_BYTES = 4096;
/** A put retries its rename when a concurrent delete removed the emptied parent directory. */
const MAX_PUBLISH_ATTEMPTS = 5;
const SEGMENT_NAME = /^[A-Za-z0-9._-]+$/;
const ETAG = /^[0-9a-f]{64}$/;

export async function createFsBlobStore(options: FsBlobStoreOptions): Promise<BlobStore> {
  await mkdir(options.dir, { recursive: true });
  // Two stores on one directory would delete each other's puts in flight (see above).
  const lock = DirectoryLock.acquire(resolve(options.dir), {
    lockedError: ({ message }) => new Error(`blob directory ${message}`),
  });
  try {
    const objectsDir = join(lock.dir, 'objects');
    const tempDir = join(lock.dir, 'tmp');
    await mkdir(objectsDir, { recursive: true });
    await mkdir(tempDir, { recursive: true });
    await removeTempFiles(tempDir);
    return new FsBlobStore(lock, objectsDir, tempDir, options.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES);
  } catch (error) {
    lock.release();
    throw error;
  }
}

class FsBlobStore implements BlobStore {
  private closed = false;

  constructor(
    private readonly lock: DirectoryLock,
    private readonly objectsDir: string,
    private readonly tempDir: string,
    private readonly maxBlobBytes: number,
  ) {}

  async put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<BlobInfo> {
    this.assertOpen();
    assertBlobKey(key);
    const contentType = normaliseContentType(options?.contentType);
    const limitBytes = putLimitBytes(options, this.maxBlobBytes);
    const tempPath = join(this.tempDir, `${randomUUID()}${TEMP_SUFFIX}`);
    const handle = await open(tempPath, 'wx', 0o644);
    let handleOpen = true;
    let published = false;
    try {
      const { size, etag } = await writeBlobFile(handle, body, limitBytes, contentType);
      await handle.sync();
      // The rename keeps this mtime, so it is the blob's modifiedAt.
      const { mtime } = await handle.stat();
      await handle.close();
      handleOpen = false;
      this.assertOpen();
      await this.publish(tempPath, this.pathOf(key));
      published = true;
      return { key, size, etag, contentType, modifiedAt: mtime };
    } finally {
      if (handleOpen) await handle.close();
      if (!published) await rm(tempPath, { force: true });
    }
  }

  async get(key: string, options?: GetOptions): Promise<BlobRead | undefined> {
    this.assertOpen();
    assertBlobKey(key);
    const handle = await openIfExists(this.pathOf(key));
    if (handle === undefined) return undefined;
    try {
      const info = await readInfo(handle, key);
      const range = options?.range === undefined ? undefined : resolveRange(options.range, info.size);
      if (info.size === 0) {
        await handle.close();
        return { info, body: Readable.from([], { objectMode: false }) };
      }
      const start = range?.start ?? 0;
      const end = range?.end ?? info.size - 1;
      // The stream owns the handle from here and closes it when it ends or is destroyed.
      const body = handle.createReadStream({ start, end });
      return range === undefined ? { info, body } : { info, body, range };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    this.assertOpen();
    assertBlobKey(key);
    return statFile(this.pathOf(key), key);
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    assertBlobKey(key);
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
    await fsyncDirectory(dirname(path));
    await this.removeEmptyParents(dirname(path));
    return true;
  }

  async list(options?: ListOptions): Promise<BlobPage> {
    this.assertOpen();
    const params = listParams(options);
    const found: BlobInfo[] = [];
    for await (const { key, path } of walk(this.objectsDir, '', params)) {
      // A blob deleted between the directory read and this stat is simply not listed.
      const info = await statFile(path, key);
      if (info !== undefined) found.push(info);
      if (found.length > params.limit) break;
    }
    return pageOf(found, params.limit);
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await access(this.objectsDir, constants.R_OK | constants.W_OK);
    await access(this.tempDir, constants.R_OK | constants.W_OK);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.lock.release();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('blob store is closed');
  }

  private pathOf(key: string): string {
    const segments = key.split('/');
    const last = segments.pop()!;
    return join(this.objectsDir, ...segments, `${last}${BLOB_SUFFIX}`);
  }

  /** Moves a finished temp file over the blob's file and makes the new names durable. */
  private async publish(tempPath: string, blobPath: string): Promise<void> {
    const parent = dirname(blobPath);
    let firstCreated: string | undefined;
    for (let attempt = 1; ; attempt++) {
      const created = await mkdir(parent, { recursive: true });
      // Of the directories any attempt made, the topmost is where syncing must start.
      if (created !== undefined && (firstCreated === undefined || created.length < firstCreated.length)) {
        firstCreated = created;
      }
      try {
        await rename(tempPath, blobPath);
        break;
      } catch (error) {
        // ENOENT here means a delete removed `parent` once it was empty: make it again.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= MAX_PUBLISH_ATTEMPTS)
          throw error;
      }
    }
    await fsyncDirectory(parent);
    if (firstCreated !== undefined) await this.fsyncCreatedDirectories(firstCreated, parent);
  }

  /** A new directory survives a crash only once the directory holding its name is synced. */
  private async fsyncCreatedDirectories(firstCreated: string, parent: string): Promise<void> {
    let directory = dirname(firstCreated);
    const segments = relative(directory, parent).split(sep);
    await fsyncDirectory(directory);
    for (const segment of segments.slice(0, -1)) {
      directory = join(directory, segment);
      await fsyncDirectory(directory);
    }
  }

  /** Deletes leave no empty directories behind; a put that races one retries its rename. */
  private async removeEmptyParents(directory: string): Promise<void> {
    while (directory !== this.objectsDir && directory.startsWith(this.objectsDir)) {
      try {
        await rmdir(directory);
      } catch {
        return; // Not empty, or already gone: either way the walk up ends here.
      }
      directory = dirname(directory);
    }
  }
}

async function writeBlobFile(
  handle: FileHandle,
  body: Readable | Uint8Array,
  limitBytes: number,
  contentType: string,
): Promise<{ size: number; etag: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of boundedChunks(body, limitBytes)) {
    hash.update(chunk);
    await writeAll(handle, chunk);
    size += chunk.byteLength;
  }
  const etag = hash.digest('hex');
  const metadata = Buffer.from(JSON.stringify({ v: 1, etag, contentType }), 'utf8');
  const fixed = Buffer.alloc(TRAILER_FIXED_BYTES);
  fixed.writeUInt32BE(metadata.byteLength, 0);
  TRAILER_MAGIC.copy(fixed, 4);
  await writeAll(handle, Buffer.concat([metadata, fixed]));
  return { size, etag };
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Reads a blob file's trailer. A file that does not end in one is corrupt: an operating error. */
async function readInfo(handle: FileHandle, key: string): Promise<BlobInfo> {
  const { size: fileSize, mtime } = await handle.stat();
  const corrupt = (why: string) => new Error(`blob file of key ${key} is corrupt: ${why}`);
  if (fileSize < TRAILER_FIXED_BYTES) throw corrupt('shorter than its trailer');
  const fixed = Buffer.alloc(TRAILER_FIXED_BYTES);
  await handle.read(fixed, 0, TRAILER_FIXED_BYTES, fileSize - TRAILER_FIXED_BYTES);
  if (!fixed.subarray(4).equals(TRAILER_MAGIC)) throw corrupt('no trailer magic');
  const metadataBytes = fixed.readUInt32BE(0);
  const size = fileSize - TRAILER_FIXED_BYTES - metadataBytes;
  if (metadataBytes > MAX_METADATA_BYTES || size < 0) throw corrupt('bad metadata length');
  const metadata = Buffer.alloc(metadataBytes);
  await handle.read(metadata, 0, metadataBytes, size);
  let parsed: { etag?: unknown; contentType?: unknown };
  try {
    parsed = JSON.parse(metadata.toString('utf8'));
  } catch {
    throw corrupt('metadata is not JSON');
  }
  if (typeof parsed.etag !== 'string' || !ETAG.test(parsed.etag) || typeof parsed.contentType !== 'string') {
    throw corrupt('metadata lacks etag or contentType');
  }
  return { key, size, etag: parsed.etag, contentType: parsed.contentType, modifiedAt: mtime };
}

async function statFile(path: string, key: string): Promise<BlobInfo | undefined> {
  const handle = await openIfExists(path);
  if (handle === undefined) return undefined;
  try {
    return await readInfo(handle, key);
  } finally {
    await handle.close();
  }
}

async function openIfExists(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

interface WalkEntry {
  /** A blob's key, or for a directory the key prefix `<path>/` that all keys below it share. */
  sortKey: string;
  name: string;
  isDirectory: boolean;
}

/**
 * Yields blob files under `directory` in key order, skipping subtrees that cannot hold a key
 * matching the prefix or following the cursor. Sorting siblings by key (directories by their
 * `name/` prefix) is the global key order: keys below a directory form one contiguous run.
 */
async function* walk(
  directory: string,
  keyPrefix: string,
  params: ListParams,
): AsyncGenerator<{ key: string; path: string }> {
  const entries = await directoryEntries(directory, keyPrefix);
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.isDirectory) {
      if (subtreeMayMatch(entry.sortKey, params)) yield* walk(path, entry.sortKey, params);
      continue;
    }
    const key = entry.sortKey;
    if (!key.startsWith(params.prefix) || (params.after !== undefined && key <= params.after)) continue;
    yield { key, path };
  }
}

async function directoryEntries(directory: string, keyPrefix: string): Promise<WalkEntry[]> {
  let dirents: Dirent[];
  try {
    dirents = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return []; // Removed by a delete while we walked.
    throw error;
  }
  const entries: WalkEntry[] = [];
  for (const dirent of dirents) {
    if (dirent.isDirectory() && SEGMENT_NAME.test(dirent.name)) {
      entries.push({ sortKey: `${keyPrefix}${dirent.name}/`, name: dirent.name, isDirectory: true });
    } else if (dirent.isFile() && dirent.name.endsWith(BLOB_SUFFIX)) {
      const segment = dirent.name.slice(0, -BLOB_SUFFIX.length);
      if (SEGMENT_NAME.test(segment))
        entries.push({ sortKey: `${keyPrefix}${segment}`, name: dirent.name, isDirectory: false });
    }
  }
  entries.sort((left, right) => (left.sortKey < right.sortKey ? -1 : left.sortKey > right.sortKey ? 1 : 0));
  return entries;
}

function subtreeMayMatch(directoryPrefix: string, params: ListParams): boolean {
  const prefixOverlaps =
    directoryPrefix.startsWith(params.prefix) || params.prefix.startsWith(directoryPrefix);
  if (!prefixOverlaps) return false;
  if (params.after === undefined || params.after < directoryPrefix) return true;
  // The cursor is past this directory's prefix: only a cursor inside the subtree leaves keys after it.
  return params.after.startsWith(directoryPrefix);
}

/** Everything in `tmp/` is a put that a crash interrupted: its blob was never published. */
async function removeTempFiles(tempDir: string): Promise<void> {
  for (const name of await readdir(tempDir)) {
    await rm(join(tempDir, name), { force: true, recursive: true });
  }
}
