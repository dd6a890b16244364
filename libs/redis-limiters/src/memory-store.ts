import type { AlgorithmState } from './algorithms/index.js';

/**
 * Where the in-memory limiters keep their state: one map shared by every limiter that should
 * see the same counters (a service rebuilding its limiters on a rules reload keeps its store).
 * Bounded: entries expired for more than SWEEP_GRACE_MS are dropped a few at a time on every
 * write (the grace keeps a clock that steps back a little from seeing a different state than
 * Redis would), and when `maxKeys` entries exist the least recently written one is forgotten
 * (that identity starts over with a full quota; `evictions` counts how often it happened).
 */

export interface MemoryStoreOptions {
  /** Default 100,000 keys. */
  maxKeys?: number;
}

export const DEFAULT_MEMORY_MAX_KEYS = 100_000;
const MAX_MEMORY_KEYS = 10_000_000;
/** Entries looked at (from the least recently written end) per write. */
const SWEEP_PER_WRITE = 2;
const SWEEP_GRACE_MS = 10_000;

interface Entry {
  state: AlgorithmState;
  expiresAtMs: number;
}

export class MemoryStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;
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
    // Re-inserting moves the key to the most recently written end.
    this.entries.delete(key);
    this.sweep(nowMs);
    if (expiresAtMs <= nowMs) return;
    if (this.entries.size >= this.maxKeys) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) {
        this.entries.delete(oldest.value);
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
    let looked = 0;
    for (const [key, entry] of this.entries) {
      if (looked++ >= SWEEP_PER_WRITE) break;
      if (entry.expiresAtMs + SWEEP_GRACE_MS <= nowMs) this.entries.delete(key);
    }
  }
}
