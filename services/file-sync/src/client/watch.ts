import { watch } from 'node:fs';
import type { SyncApi } from './api.js';
import type { SyncEngine } from './engine.js';
import { STATE_DIR } from './state.js';

/**
 * The client's loop: sync, then wait for a local change (fs.watch, recursive) or a remote one
 * (long poll on the journal cursor taken before the round's listing, so no change is missed),
 * then sync again. A failed round (server down, offline) is retried with a growing delay; the
 * folder keeps changing meanwhile, and the next round catches up from the base.
 */

export interface WatchOptions {
  folder: string;
  api: SyncApi;
  engine: SyncEngine;
  signal: AbortSignal;
  /** Changes arriving within this window are synced together. */
  debounceMs?: number;
  longpollSeconds?: number;
  log?: (line: string) => void;
}

const MAX_RETRY_DELAY_MS = 30_000;

export async function watchAndSync(options: WatchOptions): Promise<void> {
  const { signal } = options;
  let wake: (() => void) | undefined;
  let localChange = false;
  const watcher = watch(options.folder, { recursive: true }, (_event, name) => {
    if (typeof name === 'string' && (name === STATE_DIR || name.startsWith(`${STATE_DIR}/`))) return;
    localChange = true;
    wake?.();
  });
  let retryDelayMs = 500;
  try {
    while (!signal.aborted) {
      let cursor: string;
      try {
        localChange = false;
        ({ cursor } = await options.engine.syncOnce());
        retryDelayMs = 500;
      } catch (error) {
        options.log?.(`sync failed, retrying in ${retryDelayMs} ms: ${(error as Error).message}`);
        await sleep(retryDelayMs, signal);
        retryDelayMs = Math.min(retryDelayMs * 2, MAX_RETRY_DELAY_MS);
        continue;
      }
      if (localChange) continue;
      await waitForChange(options, cursor, (resume) => {
        wake = resume;
      });
      wake = undefined;
      await sleep(options.debounceMs ?? 100, signal);
    }
  } finally {
    watcher.close();
  }
}

async function waitForChange(
  options: WatchOptions,
  cursor: string,
  onLocal: (resume: () => void) => void,
): Promise<void> {
  const stop = new AbortController();
  const abort = () => stop.abort();
  options.signal.addEventListener('abort', abort, { once: true });
  const local = new Promise<void>((resolve) => onLocal(resolve));
  const remote = options.api
    .longpoll(cursor, options.longpollSeconds ?? 30, stop.signal)
    .catch(() => sleep(1000, stop.signal));
  const aborted = new Promise<void>((resolve) =>
    stop.signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  await Promise.race([local, remote, aborted]);
  stop.abort();
  options.signal.removeEventListener('abort', abort);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
