import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@sysdesign/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryLock, DirectoryLockedError, LOCK_FILE } from '../../src/fs/index.js';

/** A pid no process has (above the kernel's pid_max). */
const DEAD_PID = 2_147_483_646;

const held: DirectoryLock[] = [];
function acquire(dir: string): DirectoryLock {
  const lock = DirectoryLock.acquire(dir);
  held.push(lock);
  return lock;
}
afterEach(() => {
  for (const lock of held.splice(0)) lock.release();
});

describe('DirectoryLock', () => {
  it('refuses a second owner in this process until the first releases', async () => {
    // Two engines of one process on one directory would corrupt it as two processes would.
    const dir = await tempDir('dir-lock-');
    const first = acquire(dir);
    expect(() => DirectoryLock.acquire(dir)).toThrow(DirectoryLockedError);
    first.release();
    acquire(dir);
  });

  it('lets this process take over the lock an abandoned owner left, as after kill -9', async () => {
    // abandon() leaves LOCK naming this pid; the next open treats it as stale.
    const dir = await tempDir('dir-lock-');
    acquire(dir).abandon();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toMatch(new RegExp(`^${process.pid} `));
    acquire(dir);
  });

  it('refuses a directory another live process holds, naming it, and takes over a dead one', async () => {
    // The parent process is alive: refused with its pid. A pid nobody has: stale, taken over.
    const dir = await tempDir('dir-lock-');
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid} other-token\n`);
    const refused = (() => {
      try {
        return DirectoryLock.acquire(dir);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(DirectoryLockedError);
    expect(refused).toMatchObject({ pid: process.ppid });
    writeFileSync(join(dir, LOCK_FILE), `${DEAD_PID} gone\n`);
    acquire(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toMatch(new RegExp(`^${process.pid} `));
  });

  it("throws the owner's own error when given one", async () => {
    // The bus and the storage engine refuse with their own codes.
    const dir = await tempDir('dir-lock-');
    acquire(dir);
    expect(() =>
      DirectoryLock.acquire(dir, {
        lockedError: ({ pid, message }) => Object.assign(new Error(message), { code: 'MINE', pid }),
      }),
    ).toThrow(expect.objectContaining({ code: 'MINE', pid: process.pid }));
  });

  it('removes on release only a lock file that is still its own', async () => {
    // After an abandon and a takeover, the old owner's release must not free the new owner's lock.
    const dir = await tempDir('dir-lock-');
    const old = DirectoryLock.acquire(dir);
    old.abandon();
    acquire(dir);
    const current = readFileSync(join(dir, LOCK_FILE), 'utf8');
    old.release();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(current);
  });
});
