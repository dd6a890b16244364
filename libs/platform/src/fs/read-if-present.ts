import { readFile } from 'node:fs/promises';

/**
 * A small file's text, or undefined when it does not exist (a new data directory). Any other
 * error (permissions, a directory in its place) is thrown: it is the operator's to fix.
 */
export async function readTextIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
