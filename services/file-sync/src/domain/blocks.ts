import { createHash } from 'node:crypto';

/** Blocks are named by the SHA-256 of their bytes, lower-case hex. */
export const BLOCK_HASH = /^[0-9a-f]{64}$/;
/** Most blocks one revision may list: 1 GiB of 4 MiB blocks is 256; FastCDC at 1 KiB averages many more. */
export const MAX_BLOCKS_PER_REVISION = 100_000;

export interface BlockRef {
  hash: string;
  size: number;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * A revision's content id: the SHA-256 of its block list. Two revisions with the same id hold the
 * same bytes; clients compare it with the id of their local file's blocks to skip a transfer.
 */
export function contentIdOf(blocks: readonly BlockRef[]): string {
  const hash = createHash('sha256');
  for (const block of blocks) hash.update(`${block.hash}:${block.size}\n`);
  return hash.digest('hex');
}

/** The blocks that overlap bytes `start..end` (inclusive), with the offsets to cut from each. */
export function blocksInRange(
  blocks: readonly BlockRef[],
  start: number,
  end: number,
): { block: BlockRef; from: number; to: number }[] {
  const selected: { block: BlockRef; from: number; to: number }[] = [];
  let offset = 0;
  for (const block of blocks) {
    const blockEnd = offset + block.size - 1;
    if (blockEnd >= start && offset <= end && block.size > 0) {
      selected.push({
        block,
        from: Math.max(0, start - offset),
        to: Math.min(block.size - 1, end - offset),
      });
    }
    offset += block.size;
    if (offset > end) break;
  }
  return selected;
}
