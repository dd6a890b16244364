import type { ServiceLogger as Logger } from '@sysdesign/platform';
import type { MessageStore } from '../store/message-store.js';

/**
 * Retention: messages older than the configured age are deleted (not tombstoned), in batches so
 * one sweep never holds a long transaction. Sequences stay as they were: history pages and
 * resumes simply start later.
 */

const PURGE_BATCH = 1_000;
/** Batches per sweep; the rest waits for the next sweep. */
const PURGE_BATCHES_MAX = 100;

export async function sweepRetention(store: MessageStore, cutoffMs: number): Promise<number> {
  let purged = 0;
  for (let batch = 0; batch < PURGE_BATCHES_MAX; batch += 1) {
    const count = await store.purgeBefore(cutoffMs, PURGE_BATCH);
    purged += count;
    if (count < PURGE_BATCH) break;
  }
  return purged;
}

export function startRetention(options: {
  store: MessageStore;
  retentionMs: number;
  sweepMs: number;
  nowMs: () => number;
  log: Logger;
  onPurged: (count: number) => void;
}): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = sweepRetention(options.store, options.nowMs() - options.retentionMs)
      .then((count) => {
        options.onPurged(count);
        if (count > 0) options.log.info({ purged: count }, 'retention sweep deleted old messages');
      })
      .catch((error: unknown) => options.log.warn({ err: error }, 'retention sweep failed'));
  }, options.sweepMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
