import { DirectoryLock } from '../fs/directory-lock.js';
import { BusError, BusErrorCode } from './port.js';

/**
 * One process at a time may write a bus directory: two writers would interleave appends and
 * corrupt the logs. The platform's directory lock (../fs/directory-lock.ts says its policy),
 * refusing with the bus's own error code.
 */
export type DirLock = DirectoryLock;

export const DirLock = {
  acquire(dir: string): DirLock {
    return DirectoryLock.acquire(dir, {
      lockedError: ({ message }) => new BusError(BusErrorCode.dirLocked, `bus directory ${message}`),
    });
  },
};
