import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
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
  listParams,
  normaliseContentType,
  type PutOptions,
  pageOf,
  putLimitBytes,
  resolveRange,
} from './port.js';

/**
 * Blobs in a Map, for tests and for services whose blobs may vanish on restart. Same semantics as
 * the filesystem adapter: a put becomes visible only once its whole body has arrived, the last
 * put to finish wins, and a reader keeps the content it started with.
 */

export interface MemoryBlobStoreOptions {
  /** Store-wide cap on one blob. */
  maxBlobBytes?: number;
  /** Milliseconds since the epoch; injected so tests can pin `modifiedAt`. */
  now?: () => number;
}

interface StoredBlob {
  info: BlobInfo;
  content: Buffer;
}

export function createMemoryBlobStore(options: MemoryBlobStoreOptions = {}): BlobStore {
  const maxBlobBytes = options.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES;
  const now = options.now ?? Date.now;
  const blobs = new Map<string, StoredBlob>();
  let closed = false;

  const assertOpen = () => {
    if (closed) throw new Error('blob store is closed');
  };

  return {
    async put(key: string, body: Readable | Uint8Array, putOptions?: PutOptions): Promise<BlobInfo> {
      assertOpen();
      assertBlobKey(key);
      const contentType = normaliseContentType(putOptions?.contentType);
      const limitBytes = putLimitBytes(putOptions, maxBlobBytes);
      const hash = createHash('sha256');
      const chunks: Uint8Array[] = [];
      for await (const chunk of boundedChunks(body, limitBytes)) {
        hash.update(chunk);
        chunks.push(chunk);
      }
      // Buffer.concat copies, so a caller reusing its buffers cannot change a stored blob.
      const content = Buffer.concat(chunks);
      assertOpen();
      const info: BlobInfo = {
        key,
        size: content.byteLength,
        etag: hash.digest('hex'),
        contentType,
        modifiedAt: new Date(now()),
      };
      blobs.set(key, { info, content });
      return { ...info };
    },

    async get(key: string, getOptions?: GetOptions): Promise<BlobRead | undefined> {
      assertOpen();
      assertBlobKey(key);
      const blob = blobs.get(key);
      if (blob === undefined) return undefined;
      const info = { ...blob.info };
      if (getOptions?.range === undefined)
        return { info, body: Readable.from([Buffer.from(blob.content)], { objectMode: false }) };
      const range = resolveRange(getOptions.range, info.size);
      const slice = Buffer.from(blob.content.subarray(range.start, range.end + 1));
      return { info, body: Readable.from([slice], { objectMode: false }), range };
    },

    async stat(key: string): Promise<BlobInfo | undefined> {
      assertOpen();
      assertBlobKey(key);
      const blob = blobs.get(key);
      return blob === undefined ? undefined : { ...blob.info };
    },

    async delete(key: string): Promise<boolean> {
      assertOpen();
      assertBlobKey(key);
      return blobs.delete(key);
    },

    async list(listOptions?: ListOptions): Promise<BlobPage> {
      assertOpen();
      const { prefix, after, limit } = listParams(listOptions);
      const keys: string[] = [];
      for (const key of blobs.keys()) {
        if (key.startsWith(prefix) && (after === undefined || key > after)) keys.push(key);
      }
      keys.sort();
      const found = keys.slice(0, limit + 1).map((key) => ({ ...blobs.get(key)!.info }));
      return pageOf(found, limit);
    },

    async ping(): Promise<void> {
      assertOpen();
    },

    async close(): Promise<void> {
      closed = true;
      blobs.clear();
    },
  };
}
