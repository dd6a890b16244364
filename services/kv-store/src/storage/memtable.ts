import type { StoredEntry } from './entry.js';

/**
 * The memtable: the newest version of each recently written key, in key order, in memory. Two
 * sorted indexes are offered because the textbooks name both and the difference is measurable
 * (bench/engine.ts): a skip list (O(log n) insert, what LevelDB and Cassandra use) and a sorted
 * array with binary search (O(log n) search but O(n) insert, compact and cache-friendly).
 */

export type MemtableIndexKind = 'skiplist' | 'sorted-array';

/** Bytes counted per entry beyond key and value: object headers, pointers, numbers. */
export const MEMTABLE_ENTRY_OVERHEAD_BYTES = 64;

/** The sorted map both indexes implement. Keys compare with `<`. */
export interface SortedIndex {
  readonly size: number;
  get(key: string): StoredEntry | undefined;
  /** Inserts or replaces the entry of `entry.key`; returns the replaced one. */
  set(entry: StoredEntry): StoredEntry | undefined;
  /** Up to `limit` entries with `start <= key < end` (either bound optional), in key order. */
  range(start: string | undefined, end: string | undefined, limit: number): StoredEntry[];
  /** Every entry in key order. Not safe against concurrent `set`: used on sealed memtables. */
  values(): IterableIterator<StoredEntry>;
}

/** Levels enough for 4^24 entries; a memtable holds a few hundred thousand at most. */
const SKIPLIST_MAX_LEVEL = 24;

class SkipNode {
  constructor(
    public entry: StoredEntry | undefined,
    readonly next: Array<SkipNode | undefined>,
  ) {}
}

/** A skip list with branching factor 4 and a seeded xorshift, so its shape is reproducible. */
export class SkipList implements SortedIndex {
  private readonly head = new SkipNode(undefined, new Array(SKIPLIST_MAX_LEVEL).fill(undefined));
  private readonly predecessors: SkipNode[] = new Array(SKIPLIST_MAX_LEVEL).fill(this.head);
  private level = 1;
  private count = 0;
  private random = 0x9e3779b9;

  get size(): number {
    return this.count;
  }

  get(key: string): StoredEntry | undefined {
    const node = this.lowerBound(key);
    return node !== undefined && node.entry!.key === key ? node.entry : undefined;
  }

  set(entry: StoredEntry): StoredEntry | undefined {
    const key = entry.key;
    let node = this.head;
    for (let level = this.level - 1; level >= 0; level--) {
      let next = node.next[level];
      while (next !== undefined && next.entry!.key < key) {
        node = next;
        next = node.next[level];
      }
      this.predecessors[level] = node;
    }
    const found = node.next[0];
    if (found !== undefined && found.entry!.key === key) {
      const replaced = found.entry;
      found.entry = entry;
      return replaced;
    }
    const height = this.randomHeight();
    for (let level = this.level; level < height; level++) this.predecessors[level] = this.head;
    if (height > this.level) this.level = height;
    const created = new SkipNode(entry, new Array(height));
    for (let level = 0; level < height; level++) {
      const predecessor = this.predecessors[level]!;
      created.next[level] = predecessor.next[level];
      predecessor.next[level] = created;
    }
    this.count++;
    return undefined;
  }

  range(start: string | undefined, end: string | undefined, limit: number): StoredEntry[] {
    const result: StoredEntry[] = [];
    let node = start === undefined ? this.head.next[0] : this.lowerBound(start);
    while (node !== undefined && result.length < limit) {
      const entry = node.entry!;
      if (end !== undefined && entry.key >= end) break;
      result.push(entry);
      node = node.next[0];
    }
    return result;
  }

  *values(): IterableIterator<StoredEntry> {
    for (let node = this.head.next[0]; node !== undefined; node = node.next[0]) yield node.entry!;
  }

  /** The first node whose key is >= `key`. */
  private lowerBound(key: string): SkipNode | undefined {
    let node = this.head;
    for (let level = this.level - 1; level >= 0; level--) {
      let next = node.next[level];
      while (next !== undefined && next.entry!.key < key) {
        node = next;
        next = node.next[level];
      }
    }
    return node.next[0];
  }

  private randomHeight(): number {
    let height = 1;
    while (height < SKIPLIST_MAX_LEVEL && (this.nextRandom() & 3) === 0) height++;
    return height;
  }

  private nextRandom(): number {
    let x = this.random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.random = x >>> 0;
    return this.random;
  }
}

/** Parallel arrays kept sorted; an insert shifts the tail (memmove of pointers). */
export class SortedArray implements SortedIndex {
  private readonly keys: string[] = [];
  private readonly entries: StoredEntry[] = [];

  get size(): number {
    return this.keys.length;
  }

  get(key: string): StoredEntry | undefined {
    const index = this.lowerBound(key);
    return this.keys[index] === key ? this.entries[index] : undefined;
  }

  set(entry: StoredEntry): StoredEntry | undefined {
    const index = this.lowerBound(entry.key);
    if (this.keys[index] === entry.key) {
      const replaced = this.entries[index];
      this.entries[index] = entry;
      return replaced;
    }
    if (index === this.keys.length) {
      this.keys.push(entry.key);
      this.entries.push(entry);
    } else {
      this.keys.splice(index, 0, entry.key);
      this.entries.splice(index, 0, entry);
    }
    return undefined;
  }

  range(start: string | undefined, end: string | undefined, limit: number): StoredEntry[] {
    const result: StoredEntry[] = [];
    for (let index = start === undefined ? 0 : this.lowerBound(start); index < this.keys.length; index++) {
      if (result.length >= limit || (end !== undefined && this.keys[index]! >= end)) break;
      result.push(this.entries[index]!);
    }
    return result;
  }

  values(): IterableIterator<StoredEntry> {
    return this.entries.values();
  }

  private lowerBound(key: string): number {
    let low = 0;
    let high = this.keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.keys[middle]! < key) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

export function createSortedIndex(kind: MemtableIndexKind): SortedIndex {
  return kind === 'skiplist' ? new SkipList() : new SortedArray();
}

/** A sorted index plus the accounting the engine needs to decide when to flush. */
export class Memtable {
  private readonly index: SortedIndex;
  /** Approximate memory held: keys and values plus a fixed overhead per entry. */
  bytes = 0;
  tombstones = 0;
  minSeq = Number.POSITIVE_INFINITY;
  maxSeq = 0;

  constructor(kind: MemtableIndexKind) {
    this.index = createSortedIndex(kind);
  }

  get entryCount(): number {
    return this.index.size;
  }

  /** Keeps `entry` as the key's version. Entries arrive in sequence order, so it always wins. */
  apply(entry: StoredEntry, keyBytes: number): void {
    const replaced = this.index.set(entry);
    if (replaced === undefined) {
      this.bytes += keyBytes + MEMTABLE_ENTRY_OVERHEAD_BYTES + entry.value.byteLength;
    } else {
      this.bytes += entry.value.byteLength - replaced.value.byteLength;
      if (replaced.kind === 'tombstone') this.tombstones--;
    }
    if (entry.kind === 'tombstone') this.tombstones++;
    if (entry.seq < this.minSeq) this.minSeq = entry.seq;
    if (entry.seq > this.maxSeq) this.maxSeq = entry.seq;
  }

  get(key: string): StoredEntry | undefined {
    return this.index.get(key);
  }

  range(start: string | undefined, end: string | undefined, limit: number): StoredEntry[] {
    return this.index.range(start, end, limit);
  }

  values(): IterableIterator<StoredEntry> {
    return this.index.values();
  }
}
