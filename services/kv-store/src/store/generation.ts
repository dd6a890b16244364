import { join } from 'node:path';
import { readTextIfPresent, writeFileAtomic } from '@sysdesign/platform';
import { nextIncarnation } from '../domain/incarnation.js';

/**
 * The node's incarnation, persisted in DATA_DIR/GENERATION so it rises on every restart
 * (domain/incarnation.ts says why it must). Written before the node serves anything, atomically
 * (temporary file, fsync, rename, directory fsync): a crash leaves the old number or the new one.
 */

export const GENERATION_FILE = 'GENERATION';

export async function advanceGeneration(dataDir: string, nowMs: number = Date.now()): Promise<number> {
  const path = join(dataDir, GENERATION_FILE);
  const previous = await readGeneration(path);
  const next = nextIncarnation(previous, nowMs);
  await writeFileAtomic(path, `${next}\n`, { fsync: true });
  return next;
}

async function readGeneration(path: string): Promise<number | undefined> {
  const text = await readTextIfPresent(path);
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(
      `${path} holds ${JSON.stringify(text.slice(0, 40))}, not a generation number: fix or remove it`,
    );
  }
  return value;
}
