import { randomUUID } from 'node:crypto';
import { readFile, unlink, writeFile } from 'node:fs/promises';

/**
 * A lock shared by test processes (vitest's workers, two runs side by side) on one machine: a file
 * created exclusively, holding `<pid> <token>`. Unlike the platform's DirectoryLock, which refuses
 * a live holder because two owners of a data directory is a mistake, this one waits its turn: the
 * holders here are tests that must take turns, not rivals. A holder that died (killed mid-test)
 * leaves its file behind; the next process sees the pid is gone and takes the lock over.
 */

export interface FileLockOptions {
  /** How long to wait for the lock before failing; a holder legitimately keeps it this long at most. */
  timeoutMs?: number | undefined;
  /** What the lock guards, for the timeout's message. */
  purpose?: string | undefined;
}

const POLL_INTERVAL_MS = 100;

/** Runs `body` holding the lock at `path`, and releases it whatever `body` does. */
export async function withFileLock<Result>(
  path: string,
  body: () => Promise<Result>,
  { timeoutMs = 600_000, purpose = 'a file lock' }: FileLockOptions = {},
): Promise<Result> {
  const content = `${process.pid} ${randomUUID()}\n`;
  const deadline = Date.now() + timeoutMs;
  while (!(await createExclusively(path, content))) {
    const held = await readText(path);
    const holder = pidOf(held);
    if (holder !== undefined && !isAlive(holder)) {
      await removeIfStill(path, held);
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${purpose} (${path}, held by ${holder})`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  try {
    return await body();
  } finally {
    await removeIfStill(path, content);
  }
}

async function createExclusively(path: string, content: string): Promise<boolean> {
  try {
    await writeFile(path, content, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function pidOf(lockContent: string): number | undefined {
  const pid = Number.parseInt(lockContent.split(' ')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/** Removes the lock file if it still holds `content`: never a lock another process took since. */
async function removeIfStill(path: string, content: string): Promise<void> {
  if ((await readText(path)) !== content) return;
  try {
    await unlink(path);
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
