import type { AlgorithmState } from './algorithms/index.js';

/**
 * Where the in-memory limiters keep their state: one map shared by every limiter that should
 * see the same counters (a service rebuilding its limiters on a rules reload keeps its store).
 *
 * Bounded, at O(1) per write: a cursor walks the map a couple of entries per write, dropping those
 * expired for more than SWEEP_GRACE_MS (the grace keeps a clock that steps back a little from
 * seeing a different state than Redis would); when `maxKeys` entries exist, the entry under the
 * cursor is forgotten (the oldest first; that identity starts over with a full quota, and
 * `evictions` counts it). Entries are updated in place, never deleted and re-inserted: a Map
 * keeps deleted slots until it rehashes, and walking over them would cost every write.
 */

export interface MemoryStoreOptions {
  /** Default 100,000 keys. */
  maxKeys?: number;
}

export const DEFAULT_MEMORY_MAX_KEYS = 100_000;
const MAX_MEMORY_KEYS = 10_000_000;
/** Entries the cursor looks at per write. */
const SWEEP_PER_WRITE = 2;
const SWEEP_GRACE_MS = 10_000;

interface Entry {
  state: AlgorithmState;
  expiresAtMs: number;
}

export class MemoryStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;
  /** A live iterator: Map iterators stay valid while entries are added and deleted. */
  private cursor: Iterator<[string, Entry]> | undefined;
  /** Live entries forgotten because the store was full. */
  evictions = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxKeys = options.maxKeys ?? DEFAULT_MEMORY_MAX_KEYS;
    if (!Number.isInteger(this.maxKeys) || this.maxKeys < 1 || this.maxKeys > MAX_MEMORY_KEYS) {
      throw new RangeError(`maxKeys must be a whole number from 1 to ${MAX_MEMORY_KEYS}`);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): AlgorithmState | undefined {
    return this.entries.get(key)?.state;
  }

  /** Stores a state that matters until `expiresAtMs`; one already expired at `nowMs` is deleted. */
  set(key: string, state: AlgorithmState, nowMs: number, expiresAtMs: number): void {
    if (expiresAtMs <= nowMs) {
      this.entries.delete(key);
      return;
    }
    this.sweep(nowMs);
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      existing.state = state;
      existing.expiresAtMs = expiresAtMs;
      return;
    }
    if (this.entries.size >= this.maxKeys) {
      const victim = this.advance();
      if (victim !== undefined) {
        this.entries.delete(victim[0]);
        this.evictions++;
      }
    }
    this.entries.set(key, { state, expiresAtMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  private sweep(nowMs: number): void {
    for (let looked = 0; looked < SWEEP_PER_WRITE; looked++) {
      const next = this.advance();
      if (next === undefined) return;
      if (next[1].expiresAtMs + SWEEP_GRACE_MS <= nowMs) this.entries.delete(next[0]);
    }
  }

  /** The next entry under the cursor, starting over at the end of the map. */
  private advance(): [string, Entry] | undefined {
    for (let attempt = 0; attempt < 2; attempt++) {
      this.cursor ??= this.entries.entries();
      const step = this.cursor.next();
      if (!step.done) return step.value;
      this.cursor = undefined;
    }
    return undefined;
  }
}
