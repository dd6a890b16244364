/**
 * Runs tasks one at a time per key, in arrival order. The leaderboard queues one player's
 * submissions here before they take a database connection: a hot player then holds one
 * connection per instance while the rest wait in memory, instead of every pooled connection
 * waiting on the same row lock (and newcomers timing out on an empty pool).
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` once every earlier task of every one of `keys` has settled. */
  async run<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)];
    const before = unique.map((key) => this.tails.get(key) ?? Promise.resolve());
    const done = Promise.allSettled(before).then(task);
    const tail = done.catch(() => undefined);
    for (const key of unique) this.tails.set(key, tail);
    try {
      return await done;
    } finally {
      for (const key of unique) {
        if (this.tails.get(key) === tail) this.tails.delete(key);
      }
    }
  }

  /** Keys with a task queued or running. */
  get size(): number {
    return this.tails.size;
  }
}
