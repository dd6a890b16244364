import type { Readable } from 'node:stream';
import { defineProblems, Problem } from '../errors.js';

/**
 * Blobs by key: uploaded files, video segments, thumbnails. The port names only what services
 * need: whole-blob writes that are atomic (a reader sees the old blob or the new one, never a
 * mix), streamed reads with byte ranges, and key-ordered listing by cursor. Two adapters share
 * these semantics and one contract suite: the filesystem (`BLOB_DIR`) and memory (tests).
 *
 * Keys are checked here, once, for both adapters: a key is the only caller-supplied string that
 * the filesystem adapter turns into a path, so the charset is narrow on purpose.
 */

export interface BlobInfo {
  key: string;
  /** Content length in bytes. */
  size: number;
  /** SHA-256 of the content, lower-case hex: equal content, equal etag, on every adapter. */
  etag: string;
  contentType: string;
  /** When the current content was committed. */
  modifiedAt: Date;
}

export interface PutOptions {
  /** Defaults to `application/octet-stream`. */
  contentType?: string;
  /** A put whose body exceeds this is aborted and leaves nothing behind (BLOB_ERR_TOO_LARGE). */
  maxBytes?: number;
}

/** A byte range, both ends inclusive as in HTTP `Range: bytes=start-end`. `end` defaults to the last byte. */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface GetOptions {
  range?: ByteRange;
}

export interface BlobRead {
  info: BlobInfo;
  /** The content, or the requested range of it. The caller must consume or destroy it. */
  body: Readable;
  /** The range actually served (end clamped to the last byte), when one was asked for: for Content-Range. */
  range?: { start: number; end: number };
}

export interface ListOptions {
  /** Only keys starting with this string (not necessarily at a '/'). */
  prefix?: string | undefined;
  /** The `nextCursor` of the previous page. */
  cursor?: string | undefined;
  /** Page size, 1..MAX_LIST_LIMIT; defaults to DEFAULT_LIST_LIMIT. */
  limit?: number;
}

export interface BlobPage {
  /** In key order (byte order: keys are ASCII). */
  items: BlobInfo[];
  /** Present when more keys may follow. */
  nextCursor?: string;
}

export interface BlobStore {
  put(key: string, body: Readable | Uint8Array, options?: PutOptions): Promise<BlobInfo>;
  get(key: string, options?: GetOptions): Promise<BlobRead | undefined>;
  stat(key: string): Promise<BlobInfo | undefined>;
  /** True when a blob was removed. */
  delete(key: string): Promise<boolean>;
  list(options?: ListOptions): Promise<BlobPage>;
  /** Resolves when the store can be read and written. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const MAX_KEY_BYTES = 1024;
/** A segment becomes one file or directory name in the filesystem adapter (names stop at 255 bytes). */
export const MAX_KEY_SEGMENT_BYTES = 200;
export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
/** The largest blob a store accepts when a put names no smaller `maxBytes`. */
export const DEFAULT_MAX_BLOB_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
export const MAX_CONTENT_TYPE_LENGTH = 255;

/** The blob codes; thrown as problems, so a route that lets them through answers 400/413/416. */
export const blobProblems = defineProblems({
  BLOB_ERR_INVALID_KEY: { status: 400, title: 'Invalid blob key' },
  BLOB_ERR_INVALID_CONTENT_TYPE: { status: 400, title: 'Invalid content type' },
  BLOB_ERR_INVALID_CURSOR: { status: 400, title: 'Invalid list cursor' },
  BLOB_ERR_TOO_LARGE: { status: 413, title: 'Blob too large' },
  BLOB_ERR_RANGE_NOT_SATISFIABLE: { status: 416, title: 'Range not satisfiable' },
});

export type BlobErrorCode = keyof typeof blobProblems;

/** True when `error` is the blob problem `code`, for routes that map it to something else. */
export function isBlobError(error: unknown, code: BlobErrorCode): error is Problem {
  return error instanceof Problem && error.code === code;
}

const KEY_SEGMENT = /^[A-Za-z0-9._-]+$/;
const PREFIX_CHARSET = /^[A-Za-z0-9._/-]*$/;

/** Throws BLOB_ERR_INVALID_KEY unless `key` is `segment(/segment)*` over [A-Za-z0-9._-], without `.`/`..` segments. */
export function assertBlobKey(key: unknown): asserts key is string {
  const reason = keyProblem(key);
  if (reason !== undefined) throw blobProblems.BLOB_ERR_INVALID_KEY(reason);
}

function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'a key must be a non-empty string';
  // The charset is ASCII, so checking it first makes length in characters equal length in bytes.
  if (!PREFIX_CHARSET.test(key)) return 'a key may contain only A-Z a-z 0-9 . _ - and /';
  if (key.length > MAX_KEY_BYTES) return `a key may be at most ${MAX_KEY_BYTES} bytes`;
  for (const segment of key.split('/')) {
    if (segment === '') return 'a key may not start or end with / nor contain //';
    if (segment === '.' || segment === '..') return 'a key may not contain . or .. segments';
    if (segment.length > MAX_KEY_SEGMENT_BYTES)
      return `a key segment may be at most ${MAX_KEY_SEGMENT_BYTES} bytes`;
    if (!KEY_SEGMENT.test(segment)) return 'a key may contain only A-Z a-z 0-9 . _ - and /';
  }
  return undefined;
}

/** A list prefix is matched as a string, never turned into a path, so only the charset and length matter. */
export function assertBlobPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || !PREFIX_CHARSET.test(prefix) || prefix.length > MAX_KEY_BYTES) {
    throw blobProblems.BLOB_ERR_INVALID_KEY(
      'a prefix may contain only A-Z a-z 0-9 . _ - and /, up to 1024 bytes',
    );
  }
}

const CONTENT_TYPE = /^[\x21-\x7e][\x20-\x7e]*$/;

/** Content types end up in response headers: printable ASCII only, bounded. */
export function normaliseContentType(contentType: string | undefined): string {
  if (contentType === undefined) return DEFAULT_CONTENT_TYPE;
  if (contentType.length > MAX_CONTENT_TYPE_LENGTH || !CONTENT_TYPE.test(contentType)) {
    throw blobProblems.BLOB_ERR_INVALID_CONTENT_TYPE(
      `a content type must be printable ASCII of at most ${MAX_CONTENT_TYPE_LENGTH} characters`,
    );
  }
  return contentType;
}

/** The byte limit of one put: the caller's `maxBytes`, never above the store's own limit. */
export function putLimitBytes(options: PutOptions | undefined, storeLimitBytes: number): number {
  const requested = options?.maxBytes;
  if (requested === undefined) return storeLimitBytes;
  if (!Number.isSafeInteger(requested) || requested < 0) {
    throw new RangeError(`maxBytes must be a non-negative integer, got ${requested}`);
  }
  return Math.min(requested, storeLimitBytes);
}

export function tooLarge(limitBytes: number): Problem {
  return blobProblems.BLOB_ERR_TOO_LARGE(`the blob exceeds ${limitBytes} bytes`, { limitBytes });
}

/**
 * The chunks of a body as bytes, ending early with BLOB_ERR_TOO_LARGE once more than `limitBytes`
 * arrived. The source stream is not destroyed on that abort: an HTTP route still owns the request
 * and must be able to answer 413 on it.
 */
export async function* boundedChunks(
  body: Readable | Uint8Array,
  limitBytes: number,
): AsyncGenerator<Uint8Array> {
  if (body instanceof Uint8Array) {
    if (body.byteLength > limitBytes) throw tooLarge(limitBytes);
    yield body;
    return;
  }
  let total = 0;
  for await (const chunk of body.iterator({ destroyOnReturn: false })) {
    const bytes: unknown = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (!(bytes instanceof Uint8Array)) throw new TypeError('a blob body must yield bytes or strings');
    total += bytes.byteLength;
    if (total > limitBytes) throw tooLarge(limitBytes);
    yield bytes;
  }
}

/** Resolves a requested range against a blob's size; BLOB_ERR_RANGE_NOT_SATISFIABLE when it selects nothing. */
export function resolveRange(range: ByteRange, size: number): { start: number; end: number } {
  const { start } = range;
  const end = range.end === undefined ? size - 1 : Math.min(range.end, size - 1);
  const wellFormed =
    Number.isSafeInteger(start) && start >= 0 && (range.end === undefined || Number.isSafeInteger(range.end));
  if (!wellFormed || start >= size || end < start) {
    throw blobProblems.BLOB_ERR_RANGE_NOT_SATISFIABLE(
      `range ${start}-${range.end ?? ''} selects no byte of a ${size}-byte blob`,
      { size },
      { 'content-range': `bytes */${size}` },
    );
  }
  return { start, end };
}

/** Normalised list options: prefix checked, cursor decoded to the last key already returned. */
export interface ListParams {
  prefix: string;
  /** Keys strictly after this one; undefined for the first page. */
  after: string | undefined;
  limit: number;
}

export function listParams(options: ListOptions | undefined): ListParams {
  const prefix = options?.prefix ?? '';
  assertBlobPrefix(prefix);
  const limit = options?.limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  const after = options?.cursor === undefined ? undefined : keyOfCursor(options.cursor);
  return { prefix, after, limit: Math.min(limit, MAX_LIST_LIMIT) };
}

/** A cursor is the last key of a page, base64url-encoded so clients treat it as opaque. */
export function cursorOf(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function keyOfCursor(cursor: string): string {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (keyProblem(key) !== undefined || cursorOf(key) !== cursor) {
    throw blobProblems.BLOB_ERR_INVALID_CURSOR('the cursor was not returned by this list');
  }
  return key;
}

/** Builds a page from up to `limit + 1` items found in key order. */
export function pageOf(found: BlobInfo[], limit: number): BlobPage {
  if (found.length <= limit) return { items: found };
  const items = found.slice(0, limit);
  return { items, nextCursor: cursorOf(items[items.length - 1]!.key) };
}
