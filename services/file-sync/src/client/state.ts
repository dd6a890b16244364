import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The merge base (Dropbox's "synced tree"): for each path, the revision and content both sides
 * agreed on at the last sync, plus the local file's size and mtime then (so an unchanged file is
 * not re-read). Kept in `<folder>/.sysdesign-sync/state.json`, written whole to a temp file and
 * renamed after every file synced: a client killed mid-sync restarts from what it finished.
 */

export const STATE_DIR = '.sysdesign-sync';

export interface BaseEntry {
  revision: string;
  contentId: string;
  size: number;
  mtimeMs: number;
}

export class SyncState {
  private constructor(
    private readonly file: string,
    readonly entries: Map<string, BaseEntry>,
  ) {}

  static async open(folder: string): Promise<SyncState> {
    const dir = join(folder, STATE_DIR);
    await mkdir(join(dir, 'tmp'), { recursive: true });
    const file = join(dir, 'state.json');
    let entries = new Map<string, BaseEntry>();
    try {
      const saved = JSON.parse(await readFile(file, 'utf8')) as { entries: Record<string, BaseEntry> };
      entries = new Map(Object.entries(saved.entries));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return new SyncState(file, entries);
  }

  async set(path: string, entry: BaseEntry | undefined): Promise<void> {
    if (entry === undefined) this.entries.delete(path);
    else this.entries.set(path, entry);
    await this.save();
  }

  private async save(): Promise<void> {
    const temp = `${this.file}.tmp`;
    await writeFile(temp, JSON.stringify({ entries: Object.fromEntries(this.entries) }));
    await rename(temp, this.file);
  }
}
