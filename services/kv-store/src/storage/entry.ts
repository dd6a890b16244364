import { crc32 as zlibCrc32 } from 'node:zlib';
import { StorageError } from './errors.js';

/**
 * What the engine stores per key, and the byte-level helpers every file format shares. Keys are
 * strings ordered by JavaScript's `<` (UTF-16 code units); values are opaque bytes.
 */

/** A key's UTF-8 encoding may not be longer than this (it is stored with a 16-bit length). */
export const MAX_KEY_BYTES = 1024;
/** The largest `maxValueBytes` an engine accepts: one record must fit comfortably in memory. */
export const MAX_VALUE_BYTES_LIMIT = 64 * 1024 * 1024;

export type EntryKind = 'value' | 'tombstone';

/** One version of one key, as the engine stores and returns it. */
export interface StoredEntry {
  key: string;
  kind: EntryKind;
  /**
   * The bytes the layer above wrote. For a tombstone, optional metadata (for example the vector
   * clock of the delete); empty when none was given.
   */
  value: Uint8Array;
  /** The engine's write sequence number: the highest one is the current version of a key. */
  seq: number;
  /** Milliseconds since the epoch, from the engine's clock unless the writer supplied it. */
  timestampMs: number;
}

export const KIND_VALUE = 1;
export const KIND_TOMBSTONE = 2;

export function kindCode(kind: EntryKind): number {
  return kind === 'value' ? KIND_VALUE : KIND_TOMBSTONE;
}

/** The kind stored as `code`, or undefined if the byte is not a kind (corruption). */
export function kindFromCode(code: number): EntryKind | undefined {
  if (code === KIND_VALUE) return 'value';
  if (code === KIND_TOMBSTONE) return 'tombstone';
  return undefined;
}

/** CRC-32 (IEEE 802.3, the one zip and PNG use) from zlib: Node has it since 20.15 and 22.2. */
export function crc32(bytes: Uint8Array): number {
  return zlibCrc32(bytes) >>> 0;
}

const TWO_TO_32 = 2 ** 32;

/** Writes a non-negative safe integer as 8 big-endian bytes. */
export function writeUint64(buffer: Buffer, value: number, offset: number): void {
  buffer.writeUInt32BE(Math.floor(value / TWO_TO_32), offset);
  buffer.writeUInt32BE(value >>> 0, offset + 4);
}

export function readUint64(buffer: Buffer, offset: number): number {
  return buffer.readUInt32BE(offset) * TWO_TO_32 + buffer.readUInt32BE(offset + 4);
}

interface WellFormedString {
  isWellFormed(): boolean;
}

/**
 * Checks a key: a non-empty string without lone surrogates (UTF-8 cannot encode them, so two
 * different strings would become the same key on disk), at most MAX_KEY_BYTES of UTF-8.
 */
export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || !(key as unknown as WellFormedString).isWellFormed()) {
    throw new StorageError('KV_ERR_KEY_INVALID', undefined, { field: 'key' });
  }
  // A UTF-16 unit is at most 3 UTF-8 bytes, so short keys skip the exact count.
  if (key.length * 3 > MAX_KEY_BYTES) {
    const byteLength = Buffer.byteLength(key, 'utf8');
    if (byteLength > MAX_KEY_BYTES) {
      throw new StorageError('KV_ERR_KEY_TOO_LARGE', `${byteLength} bytes, at most ${MAX_KEY_BYTES}`, {
        field: 'key',
        byteLength,
        maxBytes: MAX_KEY_BYTES,
      });
    }
  }
}

/** Checks a key and returns its UTF-8 bytes. */
export function encodeKey(key: unknown): Buffer {
  checkKey(key);
  return Buffer.from(key, 'utf8');
}

/** Checks a value and returns a private copy, so the caller may reuse its buffer at once. */
export function copyValue(value: unknown, maxValueBytes: number, field = 'value'): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new StorageError('KV_ERR_VALUE_INVALID', undefined, { field });
  if (value.byteLength > maxValueBytes) {
    throw new StorageError('KV_ERR_VALUE_TOO_LARGE', `${value.byteLength} bytes, at most ${maxValueBytes}`, {
      field,
      byteLength: value.byteLength,
      maxBytes: maxValueBytes,
    });
  }
  return Uint8Array.prototype.slice.call(value);
}

/** A copy of an entry whose value the caller may keep and mutate without touching engine state. */
export function copyEntry(entry: StoredEntry): StoredEntry {
  return {
    key: entry.key,
    kind: entry.kind,
    value: Uint8Array.prototype.slice.call(entry.value),
    seq: entry.seq,
    timestampMs: entry.timestampMs,
  };
}

/** The smallest key greater than `key` in the engine's order: where a scan after `key` resumes. */
export function keyAfter(key: string): string {
  return `${key}\u0000`;
}
