import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type BlockRef, contentIdOf, sha256Hex } from '../domain/blocks.js';
import type { ChunkingOptions } from '../domain/chunker.js';
import { ApiError, type RemoteFile, type SyncApi } from './api.js';
import { blocksOfFile, eachBlock, type LocalFile, scanFolder } from './local-files.js';
import { type BaseEntry, STATE_DIR, type SyncState } from './state.js';

/**
 * One sync round, three ways (Dropbox's Nucleus): the local tree (scanned), the remote tree
 * (listed), and the base (what both agreed on last time). Per path:
 *
 *   local same,    remote same    -> nothing
 *   local changed, remote same    -> upload (or delete remotely, naming the base revision)
 *   local same,    remote changed -> download (or delete locally)
 *   both changed                  -> equal content: nothing to move; an edit beats a delete;
 *                                    else upload on the base revision, which the server turns
 *                                    into a conflicted copy: both versions survive, on both sides
 *
 * Nothing is lost: a local file is overwritten only when its content is the base's (checked again
 * just before the rename) or is safe on the server as a conflicted copy. Downloads go to a temp
 * file, are checked against the revision's content id and renamed in place: no half file is
 * ever visible. Uploads send only the blocks the server lacks; downloads fetch only the blocks
 * the old local version does not already have.
 */

export interface SyncOptions {
  folder: string;
  api: SyncApi;
  state: SyncState;
  device: string;
  chunking: ChunkingOptions;
  /** Blocks in flight at once per file. */
  parallelism?: number;
  log?: (line: string) => void;
}

export interface RoundReport {
  uploaded: string[];
  downloaded: string[];
  deletedRemote: string[];
  deletedLocal: string[];
  conflicts: string[];
  blocksSent: number;
  blocksFetched: number;
}

export class SyncEngine {
  constructor(private readonly options: SyncOptions) {}

  private log(line: string): void {
    this.options.log?.(line);
  }

  /** One round; answers the journal cursor taken before the remote listing (wait on it next). */
  async syncOnce(): Promise<{ report: RoundReport; cursor: string }> {
    const { api, state, folder, chunking } = this.options;
    const cursor = await api.latestCursor();
    const remote = await api.listAll();
    const local = await scanFolder(folder, state.entries, chunking, (path) =>
      this.log(`skipped ${path}: invalid name`),
    );
    const report: RoundReport = {
      uploaded: [],
      downloaded: [],
      deletedRemote: [],
      deletedLocal: [],
      conflicts: [],
      blocksSent: 0,
      blocksFetched: 0,
    };
    const paths = new Set([...local.keys(), ...remote.keys(), ...state.entries.keys()]);
    for (const path of [...paths].sort()) {
      await this.reconcile(path, local.get(path), remote.get(path), state.entries.get(path), report);
    }
    return { report, cursor };
  }

  private async reconcile(
    path: string,
    local: LocalFile | undefined,
    remote: RemoteFile | undefined,
    base: BaseEntry | undefined,
    report: RoundReport,
  ): Promise<void> {
    const localChanged = local?.contentId !== base?.contentId;
    const remoteChanged = remote?.revision.id !== base?.revision;
    if (!localChanged && !remoteChanged) return;
    if (local?.contentId === remote?.revision.contentId) {
      await this.options.state.set(path, remote && local ? entryOf(remote, local) : undefined);
      return;
    }
    if (localChanged && !remoteChanged) {
      if (local === undefined) return this.deleteRemote(path, remote!, report);
      return this.upload(path, local, remote?.revision.id ?? null, report);
    }
    if (!localChanged && remoteChanged) {
      if (remote === undefined) return this.deleteLocal(path, local, report);
      return this.download(path, remote, local, report);
    }
    // Both changed. An edit beats a delete; two edits go through the server's conflict rule.
    if (local === undefined) return this.download(path, remote!, undefined, report);
    if (remote === undefined) return this.upload(path, local, null, report);
    return this.upload(path, local, base?.revision ?? null, report);
  }

  private async upload(
    path: string,
    local: LocalFile,
    parent: string | null,
    report: RoundReport,
  ): Promise<void> {
    const { api, folder, chunking, device } = this.options;
    const file = join(folder, path);
    const blocks = local.blocks ?? (await blocksOfFile(file, chunking));
    const missing = await api.missing([...new Set(blocks.map((block) => block.hash))]);
    const inFlight = new Set<Promise<void>>();
    const parallelism = this.options.parallelism ?? 4;
    const read: BlockRef[] = [];
    await eachBlock(file, chunking, async (bytes) => {
      const hash = sha256Hex(bytes);
      read.push({ hash, size: bytes.byteLength });
      if (!missing.delete(hash)) return;
      const sending = api.putBlock(hash, bytes).then(() => {
        inFlight.delete(sending);
      });
      inFlight.add(sending);
      report.blocksSent += 1;
      if (inFlight.size >= parallelism) await Promise.race(inFlight);
    });
    await Promise.all(inFlight);
    // The file changed while it was read: the next round uploads what it has become.
    if (contentIdOf(read) !== local.contentId) return;
    const answer = await api.commit(path, parent, blocks, device);
    if (answer.conflict === undefined) {
      report.uploaded.push(path);
      this.log(`uploaded ${path} (${blocks.length} blocks)`);
      await this.options.state.set(path, {
        revision: answer.revision.id,
        contentId: local.contentId,
        size: local.size,
        mtimeMs: local.mtimeMs,
      });
      return;
    }
    // Ours is on the server as the conflicted copy: move the local file there too, then take the head.
    report.conflicts.push(answer.path);
    this.log(`conflict on ${path}: kept this device's version as ${answer.path}`);
    await mkdir(dirname(join(folder, answer.path)), { recursive: true });
    await rename(file, join(folder, answer.path));
    const moved = await stat(join(folder, answer.path));
    await this.options.state.set(answer.path, {
      revision: answer.revision.id,
      contentId: local.contentId,
      size: moved.size,
      mtimeMs: moved.mtimeMs,
    });
    await this.options.state.set(path, undefined);
  }

  private async download(
    path: string,
    remote: RemoteFile,
    local: LocalFile | undefined,
    report: RoundReport,
  ): Promise<void> {
    const { api, folder, chunking } = this.options;
    const target = join(folder, path);
    const blocks = await api.blocksOf(path, remote.revision.id).catch((error: unknown) => {
      // Changed again since the listing: the next round sees the new head.
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    });
    if (blocks === undefined) return;
    const have =
      local === undefined ? new Map<string, Uint8Array>() : await localBlocks(target, chunking, blocks);
    const temp = join(folder, STATE_DIR, 'tmp', randomUUID());
    const handle = await open(temp, 'w');
    try {
      for (const block of blocks) {
        let bytes = have.get(block.hash);
        if (bytes === undefined) {
          bytes = await api.getBlock(block.hash);
          report.blocksFetched += 1;
          if (sha256Hex(bytes) !== block.hash)
            throw new Error(`block ${block.hash} of ${path} arrived corrupt`);
        }
        await handle.write(bytes);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (contentIdOf(blocks) !== remote.revision.contentId) {
      await rm(temp, { force: true });
      throw new Error(`${path}: downloaded blocks do not match revision ${remote.revision.id}`);
    }
    // The local file changed since the scan: do not overwrite it; the next round reconciles it.
    if (!(await unchangedSince(target, local))) {
      await rm(temp, { force: true });
      return;
    }
    await mkdir(dirname(target), { recursive: true });
    await rename(temp, target);
    const written = await stat(target);
    report.downloaded.push(path);
    this.log(`downloaded ${path} (${report.blocksFetched} blocks fetched so far)`);
    await this.options.state.set(path, {
      revision: remote.revision.id,
      contentId: remote.revision.contentId,
      size: written.size,
      mtimeMs: written.mtimeMs,
    });
  }

  private async deleteRemote(path: string, remote: RemoteFile, report: RoundReport): Promise<void> {
    try {
      await this.options.api.deleteFile(path, remote.revision.id);
    } catch (error) {
      // Changed remotely meanwhile (409) or already gone (404): the next round decides again.
      if (error instanceof ApiError && (error.status === 409 || error.status === 404)) return;
      throw error;
    }
    report.deletedRemote.push(path);
    this.log(`deleted ${path} on the server`);
    await this.options.state.set(path, undefined);
  }

  private async deleteLocal(path: string, local: LocalFile | undefined, report: RoundReport): Promise<void> {
    if (local !== undefined) {
      if (!(await unchangedSince(join(this.options.folder, path), local))) return;
      await rm(join(this.options.folder, path), { force: true });
      report.deletedLocal.push(path);
      this.log(`deleted ${path} here`);
    }
    await this.options.state.set(path, undefined);
  }
}

function entryOf(remote: RemoteFile, local: LocalFile): BaseEntry {
  return {
    revision: remote.revision.id,
    contentId: remote.revision.contentId,
    size: local.size,
    mtimeMs: local.mtimeMs,
  };
}

/** The blocks of the old local file that the new revision reuses, by hash. */
async function localBlocks(
  file: string,
  chunking: ChunkingOptions,
  wanted: BlockRef[],
): Promise<Map<string, Uint8Array>> {
  const needed = new Set(wanted.map((block) => block.hash));
  const found = new Map<string, Uint8Array>();
  await eachBlock(file, chunking, (bytes) => {
    const hash = sha256Hex(bytes);
    if (needed.has(hash)) found.set(hash, bytes);
  }).catch(() => undefined);
  return found;
}

async function unchangedSince(file: string, seen: LocalFile | undefined): Promise<boolean> {
  const now = await stat(file).catch(() => undefined);
  if (seen === undefined) return now === undefined;
  return now !== undefined && now.size === seen.size && now.mtimeMs === seen.mtimeMs;
}
