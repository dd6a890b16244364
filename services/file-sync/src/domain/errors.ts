/** The file-sync design's refusals; `errors.ts` maps each to a problem+json type. */

export class HashMismatchError extends Error {
  constructor(
    readonly claimed: string,
    readonly actual: string,
  ) {
    super(`the block's SHA-256 is ${actual}, not ${claimed}`);
  }
}

export class UnknownBlocksError extends Error {
  constructor(readonly missing: string[]) {
    super(`${missing.length} block(s) are not uploaded by this user: upload them, then commit again`);
  }
}

export class BlockSizeMismatchError extends Error {
  constructor(
    readonly hash: string,
    readonly claimed: number,
    readonly actual: number,
  ) {
    super(`block ${hash} has ${actual} bytes, not ${claimed}`);
  }
}

export class FileNotFoundError extends Error {
  constructor(readonly path: string) {
    super(`no file at ${JSON.stringify(path)}`);
  }
}

export class RevisionNotFoundError extends Error {
  constructor(readonly revision: string) {
    super(`no revision ${revision} of this file`);
  }
}

export class BlockNotFoundError extends Error {
  constructor(readonly hash: string) {
    super(`no block ${hash} for this user`);
  }
}

/** A delete or restore naming a revision that is no longer the head: it would discard a newer version. */
export class StaleRevisionError extends Error {
  constructor(
    readonly path: string,
    readonly head: string,
  ) {
    super(`${JSON.stringify(path)} changed since that revision: its head is ${head}`);
  }
}

export class QuotaExceededError extends Error {
  constructor(
    readonly usedBytes: number,
    readonly quotaBytes: number,
  ) {
    super(`this would take the user's files to more than the quota of ${quotaBytes} bytes`);
  }
}

export class StorageFullError extends Error {
  constructor(readonly maxStoredBytes: number) {
    super(`the block store is full (${maxStoredBytes} bytes)`);
  }
}

export class FileTooLargeError extends Error {
  constructor(readonly maxFileBytes: number) {
    super(`a file may hold at most ${maxFileBytes} bytes`);
  }
}

/** A stored block whose bytes no longer hash to its name: the disk lied; never served. */
export class CorruptBlockError extends Error {
  constructor(readonly hash: string) {
    super(`stored block ${hash} is corrupt`);
  }
}

export class InvalidCursorError extends Error {
  constructor() {
    super('the cursor was not returned by this service');
  }
}
