import { defineProblems, type Problem } from '@sysdesign/platform';
import {
  BlockNotFoundError,
  BlockSizeMismatchError,
  CorruptBlockError,
  FileNotFoundError,
  FileTooLargeError,
  HashMismatchError,
  InvalidCursorError,
  QuotaExceededError,
  RevisionNotFoundError,
  StaleRevisionError,
  StorageFullError,
  UnknownBlocksError,
} from './domain/errors.js';
import { InvalidPathError } from './domain/paths.js';
import { TooManyWaitersError } from './store/change-notifier.js';

/** The file-sync service's stable error codes; each maps to a problem+json `type`. */
export const errors = defineProblems({
  FILESYNC_ERR_INVALID_PATH: { status: 400, title: 'Invalid path' },
  FILESYNC_ERR_HASH_MISMATCH: { status: 400, title: 'Block hash mismatch' },
  FILESYNC_ERR_BLOCK_SIZE_MISMATCH: { status: 400, title: 'Block size mismatch' },
  FILESYNC_ERR_UNKNOWN_BLOCKS: { status: 409, title: 'Blocks not uploaded' },
  FILESYNC_ERR_NOT_FOUND: { status: 404, title: 'File not found' },
  FILESYNC_ERR_REVISION_NOT_FOUND: { status: 404, title: 'Revision not found' },
  FILESYNC_ERR_BLOCK_NOT_FOUND: { status: 404, title: 'Block not found' },
  FILESYNC_ERR_STALE_REVISION: { status: 409, title: 'The file changed since that revision' },
  FILESYNC_ERR_QUOTA_EXCEEDED: { status: 507, title: 'Quota exceeded' },
  FILESYNC_ERR_STORAGE_FULL: { status: 507, title: 'Storage full' },
  FILESYNC_ERR_FILE_TOO_LARGE: { status: 413, title: 'File too large' },
  FILESYNC_ERR_BLOCK_TOO_LARGE: { status: 413, title: 'Block too large' },
  FILESYNC_ERR_CORRUPT_BLOCK: { status: 500, title: 'Stored block is corrupt' },
  FILESYNC_ERR_INVALID_CURSOR: { status: 400, title: 'Invalid cursor' },
  FILESYNC_ERR_TOO_MANY_POLLS: { status: 503, title: 'Too many long polls' },
  FILESYNC_ERR_CONFLICT_NOT_FOUND: { status: 404, title: 'Conflict not found' },
});

/** Shown to clients at most: a commit may name 100,000 blocks. */
const MAX_LISTED_MISSING = 100;

export function mapFileSyncError(error: unknown): Problem | undefined {
  if (error instanceof InvalidPathError)
    return errors.FILESYNC_ERR_INVALID_PATH(error.message, { reason: error.reason });
  if (error instanceof HashMismatchError) {
    return errors.FILESYNC_ERR_HASH_MISMATCH(error.message, { claimed: error.claimed, actual: error.actual });
  }
  if (error instanceof BlockSizeMismatchError) {
    return errors.FILESYNC_ERR_BLOCK_SIZE_MISMATCH(error.message, { hash: error.hash, size: error.actual });
  }
  if (error instanceof UnknownBlocksError) {
    return errors.FILESYNC_ERR_UNKNOWN_BLOCKS(error.message, {
      missingCount: error.missing.length,
      missing: error.missing.slice(0, MAX_LISTED_MISSING),
    });
  }
  if (error instanceof FileNotFoundError) return errors.FILESYNC_ERR_NOT_FOUND(error.message);
  if (error instanceof RevisionNotFoundError) return errors.FILESYNC_ERR_REVISION_NOT_FOUND(error.message);
  if (error instanceof BlockNotFoundError) return errors.FILESYNC_ERR_BLOCK_NOT_FOUND(error.message);
  if (error instanceof StaleRevisionError)
    return errors.FILESYNC_ERR_STALE_REVISION(error.message, { head: error.head });
  if (error instanceof QuotaExceededError) {
    return errors.FILESYNC_ERR_QUOTA_EXCEEDED(error.message, {
      usedBytes: error.usedBytes,
      quotaBytes: error.quotaBytes,
    });
  }
  if (error instanceof StorageFullError) return errors.FILESYNC_ERR_STORAGE_FULL(error.message);
  if (error instanceof FileTooLargeError) {
    return errors.FILESYNC_ERR_FILE_TOO_LARGE(error.message, { maxFileBytes: error.maxFileBytes });
  }
  if (error instanceof CorruptBlockError) return errors.FILESYNC_ERR_CORRUPT_BLOCK(error.message);
  if (error instanceof InvalidCursorError) return errors.FILESYNC_ERR_INVALID_CURSOR(error.message);
  if (error instanceof TooManyWaitersError) {
    return errors.FILESYNC_ERR_TOO_MANY_POLLS(error.message, { backoffSeconds: 5 }, { 'retry-after': '5' });
  }
  return undefined;
}
