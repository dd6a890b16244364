/**
 * Wakes the long polls of a user when their journal grows. In-process only: an instance learns of
 * other instances' commits by re-reading the journal every `recheckMs` while a poll waits, so
 * several replicas stay correct (a poll answers at most `recheckMs` late) without a bus.
 */

export class TooManyWaitersError extends Error {
  constructor() {
    super('too many long polls are waiting');
  }
}

type Waiter = () => void;

export class ChangeNotifier {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private count = 0;

  constructor(private readonly maxWaiters: number) {}

  get waiting(): number {
    return this.count;
  }

  changed(userId: string): void {
    const waiting = this.waiters.get(userId);
    if (waiting === undefined) return;
    this.waiters.delete(userId);
    for (const wake of waiting) wake();
  }

  /**
   * Resolves true when `hasChanges` says so, false after `timeoutMs`. It asks `hasChanges` first,
   * after each local change, and every `recheckMs`; `signal` (the client went away) ends it early.
   */
  async wait(
    userId: string,
    options: { timeoutMs: number; recheckMs: number; signal: AbortSignal },
    hasChanges: () => Promise<boolean>,
  ): Promise<boolean> {
    if (await hasChanges()) return true;
    if (this.count >= this.maxWaiters) throw new TooManyWaitersError();
    this.count += 1;
    const deadline = Date.now() + options.timeoutMs;
    try {
      while (!options.signal.aborted) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) return false;
        await this.sleep(userId, Math.min(remaining, options.recheckMs), options.signal);
        if (await hasChanges()) return true;
      }
      return false;
    } finally {
      this.count -= 1;
    }
  }

  private sleep(userId: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        const waiting = this.waiters.get(userId);
        waiting?.delete(done);
        if (waiting?.size === 0) this.waiters.delete(userId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      let set = this.waiters.get(userId);
      if (set === undefined) {
        set = new Set();
        this.waiters.set(userId, set);
      }
      set.add(done);
    });
  }
}
