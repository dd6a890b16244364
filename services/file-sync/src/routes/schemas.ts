import { z } from 'zod';
import { BLOCK_HASH, MAX_BLOCKS_PER_REVISION } from '../domain/blocks.js';
import { MAX_BLOCK_BYTES } from '../domain/chunker.js';

/** Raw paths are checked and normalised by `normalisePath`; this only bounds what is parsed. */
export const rawPath = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(4096, 'is too long');
export const revisionId = z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be a revision id');
export const blockHash = z.string().regex(BLOCK_HASH, 'must be a lower-case hex SHA-256');
export const device = z
  .string()
  .min(1)
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9._ -]+$/, 'may contain only A-Z a-z 0-9 . _ - and spaces');
export const blockRef = z.strictObject({
  hash: blockHash,
  size: z.number().int().min(1).max(MAX_BLOCK_BYTES),
});
export const blockList = z
  .array(blockRef)
  .max(MAX_BLOCKS_PER_REVISION, `at most ${MAX_BLOCKS_PER_REVISION} blocks`);

export const revisionResponse = z.object({
  id: z.string(),
  parentId: z.string().nullable(),
  size: z.number(),
  contentId: z.string(),
  device: z.string(),
  createdAt: z.string(),
});

export const fileResponse = z.object({
  path: z.string(),
  deleted: z.boolean(),
  revision: revisionResponse,
});

export function revisionJson(revision: {
  id: string;
  parentId: string | null;
  size: number;
  contentId: string;
  device: string;
  createdAt: Date;
}) {
  return {
    id: revision.id,
    parentId: revision.parentId,
    size: revision.size,
    contentId: revision.contentId,
    device: revision.device,
    createdAt: revision.createdAt.toISOString(),
  };
}

export const problemsDoc = (codes: string[]) => `Problems: ${codes.join(', ')}.`;
