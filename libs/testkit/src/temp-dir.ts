import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/**
 * Temporary directories that clean up after themselves. In a test (or its beforeEach), a
 * directory is removed once the test has finished, after its afterEach hooks (so whatever they
 * close is closed before its files go). Made outside a test (a beforeAll), it is removed when the
 * test process exits.
 */

const removeAtExit = new Set<string>();
let exitHookInstalled = false;

/** A new empty directory `<os tmp>/<prefix>XXXXXX`, removed after the current test. */
export async function tempDir(prefix: string): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  scheduleRemoval(path);
  return path;
}

/** `tempDir` for synchronous callers. */
export function tempDirSync(prefix: string): string {
  const path = mkdtempSync(join(tmpdir(), prefix));
  scheduleRemoval(path);
  return path;
}

/** Runs `body` with a new empty directory and removes it afterwards, whatever happens (scripts, benches). */
export async function withTempDir<Result>(
  prefix: string,
  body: (dir: string) => Promise<Result>,
): Promise<Result> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await body(path);
  } finally {
    await rm(path, { recursive: true, force: true });
  }
}

function scheduleRemoval(path: string): void {
  try {
    onTestFinished(() => rm(path, { recursive: true, force: true }));
  } catch {
    // Not inside a test: there is no test end to wait for, the process end will do.
    removeAtExit.add(path);
    installExitHook();
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const path of removeAtExit) rmSync(path, { recursive: true, force: true });
  });
}
