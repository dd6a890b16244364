import { open, readFile, realpath, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from './errors.js';

/**
 * One engine per data directory: two engines appending to the same log would corrupt it. The
 * `LOCK` file holds the owner's process id; a lock whose process is gone (killed, crashed, or a
 * restarted container where the same pid is now ours) is stale and taken over. Node has no
 * flock(2), so this is advisory: it stops mistakes (two nodes given one DATA_DIR), not attackers.
 */

export const LOCK_FILE = 'LOCK';

/** Directories locked by engines of this process (a pid check cannot tell those apart). */
const lockedInThisProcess = new Set<string>();

export class DirectoryLock {
  private held = true;

  private constructor(
    private readonly directory: string,
    private readonly path: string,
  ) {}

  static async acquire(dir: string): Promise<DirectoryLock> {
    const directory = await realpath(dir);
    if (lockedInThisProcess.has(directory)) {
      throw new StorageError('KV_ERR_LOCKED', `${directory} is open in this process`, { dir: directory });
    }
    const path = join(directory, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx');
        try {
          await handle.writeFile(`${process.pid}\n`);
        } finally {
          await handle.close();
        }
        lockedInThisProcess.add(directory);
        return new DirectoryLock(directory, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
        throw new StorageError('KV_ERR_LOCKED', `${directory} is held by process ${owner}`, {
          dir: directory,
          pid: owner,
        });
      }
      await unlink(path).catch(() => {});
    }
    throw new StorageError('KV_ERR_LOCKED', `${directory}: another process took the lock first`, {
      dir: directory,
    });
  }

  /** A clean close: the directory is free for anyone. */
  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    lockedInThisProcess.delete(this.directory);
    await unlink(this.path).catch(() => {});
  }

  /** A simulated crash: the file stays behind, stale, as after kill -9; this process may reopen. */
  abandon(): void {
    this.held = false;
    lockedInThisProcess.delete(this.directory);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
