import { closeSync, fsyncSync, openSync, renameSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fsyncDirectory, fsyncDirectorySync, writeFully } from './durable.js';

/**
 * Replaces a whole file so that a reader, or the process after a crash, finds the old content or
 * the new one, never a mix: write `<path>.tmp` in the same directory (rename is atomic only
 * within one filesystem), fsync it, rename it over `path`, fsync the directory. Without `fsync`
 * the result survives a process crash but not a power loss.
 *
 * One writer per path at a time: the temporary name is fixed, so that a write a crash cut short
 * leaves one `<path>.tmp` behind, which the next write simply replaces.
 */

export interface AtomicWriteOptions {
  /** fsync the file before the rename and the directory after it. */
  fsync: boolean;
  /**
   * Checked before each step that touches the disk: once aborted, the write stops with the
   * signal's reason and `path` is left as it was. A storage engine halted to simulate a crash
   * passes its halt signal so that no write of the dead instance lands afterwards.
   */
  signal?: AbortSignal;
}

export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions,
): Promise<void> {
  const temporaryPath = `${path}.tmp`;
  options.signal?.throwIfAborted();
  const handle = await open(temporaryPath, 'w');
  try {
    await handle.writeFile(data);
    if (options.fsync) await handle.sync();
  } finally {
    await handle.close();
  }
  options.signal?.throwIfAborted();
  await rename(temporaryPath, path);
  if (options.fsync) await fsyncDirectory(dirname(path));
}

/** `writeFileAtomic` for synchronous callers (the in-process bus writes its snapshots in line). */
export function writeFileAtomicSync(
  path: string,
  data: string | Uint8Array,
  options: Omit<AtomicWriteOptions, 'signal'>,
): void {
  const temporaryPath = `${path}.tmp`;
  const fd = openSync(temporaryPath, 'w');
  try {
    writeFully(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    if (options.fsync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporaryPath, path);
  if (options.fsync) fsyncDirectorySync(dirname(path));
}
