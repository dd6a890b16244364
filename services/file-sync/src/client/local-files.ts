import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type BlockRef, contentIdOf, sha256Hex } from '../domain/blocks.js';
import { Chunker, type ChunkingOptions } from '../domain/chunker.js';
import { isValidPath } from '../domain/paths.js';
import type { BaseEntry } from './state.js';
import { STATE_DIR } from './state.js';

/** One local file as the scan saw it. */
export interface LocalFile {
  path: string;
  size: number;
  mtimeMs: number;
  /** Absent when the file is unchanged since the base (not re-read). */
  blocks?: BlockRef[];
  contentId: string;
}

/** Walks the folder (not the state folder, not symlinks), skipping names the server would refuse. */
export async function scanFolder(
  folder: string,
  base: Map<string, BaseEntry>,
  chunking: ChunkingOptions,
  onSkip: (path: string) => void,
): Promise<Map<string, LocalFile>> {
  const found = new Map<string, LocalFile>();
  const walk = async (relative: string): Promise<void> => {
    const entries = await readdir(join(folder, relative), { withFileTypes: true });
    for (const entry of entries) {
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (path === STATE_DIR) continue;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        if (!isValidPath(path)) {
          onSkip(path);
          continue;
        }
        const file = await describe(folder, path, base.get(path), chunking);
        if (file !== undefined) found.set(path, file);
      }
    }
  };
  await walk('');
  return found;
}

async function describe(
  folder: string,
  path: string,
  base: BaseEntry | undefined,
  chunking: ChunkingOptions,
): Promise<LocalFile | undefined> {
  const stats = await lstat(join(folder, path)).catch(() => undefined);
  if (stats === undefined || !stats.isFile()) return undefined;
  if (base !== undefined && base.size === stats.size && base.mtimeMs === stats.mtimeMs) {
    return { path, size: stats.size, mtimeMs: stats.mtimeMs, contentId: base.contentId };
  }
  const blocks = await blocksOfFile(join(folder, path), chunking);
  return { path, size: stats.size, mtimeMs: stats.mtimeMs, blocks, contentId: contentIdOf(blocks) };
}

/** The block list of a file, streamed: the file is never held whole. */
export async function blocksOfFile(file: string, chunking: ChunkingOptions): Promise<BlockRef[]> {
  const blocks: BlockRef[] = [];
  await eachBlock(file, chunking, (bytes) => {
    blocks.push({ hash: sha256Hex(bytes), size: bytes.byteLength });
  });
  return blocks;
}

/** Calls `visit` with each block of the file in order. */
export async function eachBlock(
  file: string,
  chunking: ChunkingOptions,
  visit: (bytes: Uint8Array) => Promise<void> | void,
): Promise<void> {
  const chunker = new Chunker(chunking);
  for await (const part of createReadStream(file)) {
    for (const block of chunker.push(part as Buffer)) await visit(block);
  }
  for (const block of chunker.finish()) await visit(block);
}
