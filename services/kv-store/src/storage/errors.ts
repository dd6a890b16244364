/**
 * The storage engine's errors: one class with a stable `code`, so the layer above can map each
 * code to its HTTP problem in one table (KV_ERR_KEY_TOO_LARGE -> 400, KV_ERR_VALUE_TOO_LARGE -> 413,
 * KV_ERR_OVERLOADED -> 503, anything else -> 500) without parsing messages.
 */

export const STORAGE_ERROR_CODES = {
  /** The key is not a non-empty, well-formed (no lone surrogates) string. */
  KV_ERR_KEY_INVALID: 'key must be a non-empty, well-formed Unicode string',
  /** The key's UTF-8 encoding is longer than MAX_KEY_BYTES. */
  KV_ERR_KEY_TOO_LARGE: 'key is too large',
  /** The value is not a Uint8Array. */
  KV_ERR_VALUE_INVALID: 'value must be a Uint8Array',
  /** The value is longer than the engine's `maxValueBytes`. */
  KV_ERR_VALUE_TOO_LARGE: 'value is too large',
  /** An option passed to `StorageEngine.open` is missing, of the wrong type or out of bounds. */
  KV_ERR_INVALID_OPTION: 'invalid storage engine option',
  /** `maxPendingWrites` writes are already in progress: the caller should shed load and retry later. */
  KV_ERR_OVERLOADED: 'too many writes in progress',
  /** The engine was closed (or crashed on purpose in a test). */
  KV_ERR_CLOSED: 'storage engine is closed',
  /** A background flush or compaction failed; writes are refused until the node restarts. */
  KV_ERR_ENGINE_FAILED: 'storage engine failed',
  /** A checksum, magic number or length on disk does not match: the file is damaged. */
  KV_ERR_CORRUPTION: 'data on disk is corrupt',
  /** Another engine (in this or another live process) holds the data directory. */
  KV_ERR_LOCKED: 'data directory is locked by another engine',
} as const;

export type StorageErrorCode = keyof typeof STORAGE_ERROR_CODES;

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    detail?: string,
    /** Machine-readable facts about the failure: the limit, the file, the offset. */
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(
      detail === undefined ? STORAGE_ERROR_CODES[code] : `${STORAGE_ERROR_CODES[code]}: ${detail}`,
      options,
    );
    this.name = 'StorageError';
  }
}

export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code);
}

/** A checksum or structure mismatch in `file` at byte `offset`. */
export function corruption(file: string, offset: number, what: string): StorageError {
  return new StorageError('KV_ERR_CORRUPTION', `${what} in ${file} at byte ${offset}`, { file, offset });
}
