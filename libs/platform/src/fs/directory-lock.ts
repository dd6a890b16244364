import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync, realpathSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFully } from './durable.js';

/**
 * One owner at a time for a data directory (a storage engine's, the durable bus's, the blob
 * store's): two owners appending to the same files would corrupt them. The lock is a `LOCK` file
 * holding `<pid> <token>`, created exclusively. Node has no flock(2), so it is advisory: it stops
 * mistakes (two nodes given one DATA_DIR), not attackers.
 *
 * The policy, the same for every directory:
 * - held by another live process: refused;
 * - left by a process that is gone (killed, crashed, or a restarted container where that pid is
 *   now ours): stale, taken over;
 * - held by an open owner in this process: refused. A pid check cannot tell two owners in one
 *   process apart, so the process keeps its own list. Taking over instead (as the bus once did)
 *   let a test reopen a directory to simulate a crash, but it also let a real second open in the
 *   same process, a test cluster given one directory twice or a service built twice, write beside
 *   the first unnoticed. A crash simulation now says what it does: `abandon()` the dead owner's
 *   lock, as kill -9 would leave it.
 */

export const LOCK_FILE = 'LOCK';

/** Why a directory could not be locked, for the owner's own error. */
export interface DirectoryLockRefusal {
  /** The directory, with symbolic links resolved. */
  dir: string;
  /** The process holding it, when known. */
  pid: number | undefined;
  message: string;
}

export class DirectoryLockedError extends Error {
  readonly dir: string;
  readonly pid: number | undefined;

  constructor(refusal: DirectoryLockRefusal) {
    super(refusal.message);
    this.name = 'DirectoryLockedError';
    this.dir = refusal.dir;
    this.pid = refusal.pid;
  }
}

export interface DirectoryLockOptions {
  /** Builds the error a refusal throws (an owner's own error code); a DirectoryLockedError by default. */
  lockedError?: (refusal: DirectoryLockRefusal) => Error;
}

/** Directories locked by owners in this process, by real path. */
const lockedInThisProcess = new Set<string>();

export class DirectoryLock {
  private held = true;

  private constructor(
    readonly dir: string,
    private readonly path: string,
    private readonly content: string,
  ) {}

  /** Locks `dir` (which must exist) or throws the refusal. */
  static acquire(dir: string, options: DirectoryLockOptions = {}): DirectoryLock {
    const directory = realpathSync(dir);
    const refuse = (pid: number | undefined, message: string): Error => {
      const refusal = { dir: directory, pid, message };
      return options.lockedError?.(refusal) ?? new DirectoryLockedError(refusal);
    };
    if (lockedInThisProcess.has(directory)) {
      throw refuse(process.pid, `${directory} is already open in this process`);
    }
    const path = join(directory, LOCK_FILE);
    const content = `${process.pid} ${randomUUID()}\n`;
    // Two attempts: a stale lock removed here may be recreated by another process in between.
    for (let attempt = 0; attempt < 2; attempt++) {
      if (createExclusively(path, content)) {
        lockedInThisProcess.add(directory);
        return new DirectoryLock(directory, path, content);
      }
      const holder = holderOf(path);
      if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
        throw refuse(holder, `${directory} is locked by process ${holder}`);
      }
      removeIfPresent(path);
    }
    throw refuse(holderOf(path), `${directory}: another process took the lock first`);
  }

  /** A clean close: the directory is free for anyone. Removes the file only if it is still ours. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    lockedInThisProcess.delete(this.dir);
    if (readText(this.path) === this.content) removeIfPresent(this.path);
  }

  /**
   * A simulated crash: the file stays behind naming this process, as after kill -9, and the next
   * open in this process takes it over as stale.
   */
  abandon(): void {
    if (!this.held) return;
    this.held = false;
    lockedInThisProcess.delete(this.dir);
  }
}

/** Creates `path` holding `content`; false when it already exists. */
function createExclusively(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeFully(fd, Buffer.from(content, 'utf8'));
  } finally {
    closeSync(fd);
  }
  return true;
}

function holderOf(path: string): number | undefined {
  const pid = Number.parseInt(readText(path).split(' ')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
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
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
