import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BusError, BusErrorCode } from './port.js';
import { appendFully } from './record-file.js';

/**
 * One process at a time may write a bus directory: two writers would interleave appends and
 * corrupt the logs. The lock is a `LOCK` file holding `<pid> <token>`, created exclusively. A lock
 * whose process is gone is stale and taken over. A lock held by this very process is taken over
 * too: that is how a test reopens a directory to simulate a crash (the dropped instance is never
 * used again), and it cannot tell that apart from reopening by mistake.
 */
export class DirLock {
  private constructor(
    private readonly path: string,
    private readonly content: string,
  ) {}

  static acquire(dir: string): DirLock {
    const path = join(dir, 'LOCK');
    const content = `${process.pid} ${randomUUID()}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        try {
          appendFully(fd, Buffer.from(content, 'utf8'));
        } finally {
          closeSync(fd);
        }
        return new DirLock(path, content);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const holder = Number.parseInt(readText(path).split(' ')[0] ?? '', 10);
        if (holder !== process.pid && isAlive(holder)) {
          throw new BusError(BusErrorCode.dirLocked, `bus directory ${dir} is in use by process ${holder}`);
        }
        removeIfPresent(path);
      }
    }
    throw new BusError(
      BusErrorCode.dirLocked,
      `could not lock bus directory ${dir}: another process keeps taking it`,
    );
  }

  /** Removes the lock if it is still ours (a reopen in this process may have taken it over). */
  release(): void {
    if (readText(this.path) === this.content) removeIfPresent(this.path);
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
