import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { writeFileAtomic } from '@sysdesign/platform';
import { StorageError } from './errors.js';

/**
 * Every file operation one engine performs, in one place, so that `halt()` can stop them all:
 * after a halt no file is opened, renamed or deleted and every open handle is closed, which is
 * what a process crash does. Tests use it to crash an engine at an exact step and reopen the
 * directory in the same process without the dead engine's background work touching the files.
 */
export class Disk {
  private halted = false;
  private readonly handles = new Set<FileHandle>();
  /** Aborted by `halt()`: a whole-file replacement in flight stops before its rename. */
  private readonly halting = new AbortController();

  constructor(readonly dir: string) {}

  get isHalted(): boolean {
    return this.halted;
  }

  async open(path: string, flags: string | number): Promise<FileHandle> {
    this.check();
    const handle = await open(path, flags);
    if (this.halted) {
      await handle.close();
      this.check();
    }
    this.handles.add(handle);
    return handle;
  }

  async close(handle: FileHandle): Promise<void> {
    if (!this.handles.delete(handle)) return;
    await handle.close();
  }

  async rename(from: string, to: string): Promise<void> {
    this.check();
    await rename(from, to);
  }

  async unlink(path: string): Promise<void> {
    this.check();
    await unlink(path);
  }

  async readdir(): Promise<string[]> {
    this.check();
    return readdir(this.dir);
  }

  async mkdir(): Promise<void> {
    this.check();
    await mkdir(this.dir, { recursive: true });
  }

  /** Replaces a whole file atomically and durably (temporary file, fsync, rename, directory fsync). */
  async replaceFile(path: string, data: string): Promise<void> {
    this.check();
    await writeFileAtomic(path, data, { fsync: true, signal: this.halting.signal });
  }

  /** Makes renames, creations and deletions in the directory durable (Linux needs this). */
  async syncDir(): Promise<void> {
    this.check();
    const handle = await open(this.dir, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Refuses every later operation and closes every handle. Waits for the closes. */
  async halt(): Promise<void> {
    this.halted = true;
    this.halting.abort(haltedError());
    const handles = [...this.handles];
    this.handles.clear();
    await Promise.allSettled(handles.map((handle) => handle.close()));
  }

  private check(): void {
    if (this.halted) throw haltedError();
  }
}

function haltedError(): StorageError {
  return new StorageError('KV_ERR_CLOSED', 'the engine was halted');
}
