import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * The small steps every durable file write in the platform and the services is made of. A write
 * survives a process crash once write(2) returns; it survives an OS crash or power loss only once
 * the file is fsynced, and a created, renamed or deleted name only once its directory is fsynced.
 */

/** Errors of platforms that cannot fsync a directory: there a rename is as durable as it gets. */
const DIRECTORY_FSYNC_UNSUPPORTED = new Set(['EINVAL', 'EISDIR', 'EPERM']);

/** Writes all of `bytes` at the file's current position (write(2) may write fewer than asked). */
export function writeFully(fd: number, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.byteLength) written += writeSync(fd, bytes, written, bytes.byteLength - written);
}

/** Makes the entries created, renamed or deleted in `dir` durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    if (!isDirectoryFsyncUnsupported(error)) throw error;
  } finally {
    await handle.close();
  }
}

/** `fsyncDirectory` for synchronous callers. */
export function fsyncDirectorySync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } catch (error) {
    if (!isDirectoryFsyncUnsupported(error)) throw error;
  } finally {
    closeSync(fd);
  }
}

function isDirectoryFsyncUnsupported(error: unknown): boolean {
  return DIRECTORY_FSYNC_UNSUPPORTED.has((error as NodeJS.ErrnoException).code ?? '');
}
