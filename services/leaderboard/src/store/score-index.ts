import type { Board } from '../domain/board.js';
import { TieBreakEncoding } from '../domain/encoding.js';
import {
  type BoardIndex,
  HashPartitionedIndex,
  hashShard,
  RangePartitionedIndex,
  type Shard,
  SingleIndex,
} from './partitions.js';
import { MemoryShardStore, type ShardStore } from './shard-store.js';

/**
 * The serving index: per board and period, one sorted set (`b:{board}:{periodStart}`) or its
 * shards (`…:s{i}`), members are player ids, scores the tie-break encoding (a higher index score
 * ranks higher, on every board). Beside it, on the same backends, what a read needs so it touches
 * no SQL: each entry's metadata (`…:m`, or `…:m{i}` on the player's hash shard) and, for dense
 * boards, the distinct scores (`…:d`, with their player counts in `…:c`).
 *
 * Shards are spread over the shard stores (several Redis URLs) when there are any, shard i on
 * store i mod n; else every key lives on the home store (one Redis, or the twin).
 */

export interface EntryMeta {
  reachedAtMs: number;
  displayName: string | null;
  subScore: number | null;
}

export type IndexedBoard = Pick<
  Board,
  'id' | 'partitioning' | 'sortOrder' | 'scoreMin' | 'scoreMax' | 'timeResolutionMs'
>;

/** The suffix a rebuild builds under before it swaps its keys in. */
const REBUILD_SUFFIX = '~rebuild';

function encodeMeta(meta: EntryMeta): string {
  return JSON.stringify([meta.reachedAtMs, meta.displayName, meta.subScore]);
}

function decodeMeta(text: string): EntryMeta {
  const [reachedAtMs, displayName, subScore] = JSON.parse(text) as [number, string | null, number | null];
  return { reachedAtMs, displayName, subScore };
}

/**
 * What a standing reads, answered synchronously: the twin of a single board runs each command to
 * completion when called, so a read needs no promise per command (the async port costs one each).
 */
export interface SyncBoardReads {
  /** 0-based position, best first, and the index score. */
  rankOf(player: string): { rank: number; score: number } | null;
  size(): number;
  countAtLeast(min: number): number;
  countBetween(min: number, max: number): number;
  metaOf(player: string): EntryMeta | null;
  distinctAbove(offset: number): number;
}

/** One board period's keys on their backends: the index, its metadata and its distinct scores. */
export class BoardView {
  readonly index: BoardIndex;
  /** The synchronous reads, on a single board in the twin; null elsewhere (Redis, partitions). */
  readonly now: SyncBoardReads | null = null;
  private readonly shardCount: number;

  constructor(
    private readonly base: string,
    board: IndexedBoard,
    private readonly home: ShardStore,
    private readonly storeOf: (shard: number) => ShardStore,
  ) {
    const { partitioning } = board;
    this.shardCount =
      partitioning.kind === 'single'
        ? 0
        : partitioning.kind === 'hash'
          ? partitioning.shards
          : partitioning.bounds.length + 1;
    if (partitioning.kind === 'single') {
      this.index = new SingleIndex({ store: home.sets, key: base });
      if (home instanceof MemoryShardStore) this.now = syncReads(home, base);
      return;
    }
    const shards: Shard[] = Array.from({ length: this.shardCount }, (_, index) => ({
      store: storeOf(index).sets,
      key: `${base}:s${index}`,
    }));
    if (partitioning.kind === 'hash') {
      this.index = new HashPartitionedIndex(shards);
      return;
    }
    const encoding = new TieBreakEncoding(board);
    this.index = new RangePartitionedIndex(
      shards,
      partitioning.bounds.map((bound) => encoding.lowestIndexOf(bound)),
    );
  }

  /** Where a player's metadata lives: beside the single set, or on the player's hash shard. */
  private metaPlace(player: string): { store: ShardStore; key: string } {
    if (this.shardCount === 0) return { store: this.home, key: `${this.base}:m` };
    const shard = hashShard(player, this.shardCount);
    return { store: this.storeOf(shard), key: `${this.base}:m${shard}` };
  }

  /** Players grouped by the (store, key) of their metadata. */
  private metaGroups<T extends { player: string }>(items: readonly T[]) {
    const groups = new Map<string, { store: ShardStore; key: string; items: T[] }>();
    for (const item of items) {
      const place = this.metaPlace(item.player);
      let group = groups.get(place.key);
      if (!group) {
        group = { ...place, items: [] };
        groups.set(place.key, group);
      }
      group.items.push(item);
    }
    return [...groups.values()];
  }

  async putMeta(entries: readonly { player: string; meta: EntryMeta }[]): Promise<void> {
    await Promise.all(
      this.metaGroups(entries).map(({ store, key, items }) =>
        store.setFields(key, new Map(items.map(({ player, meta }) => [player, encodeMeta(meta)]))),
      ),
    );
  }

  async metaOf(players: readonly string[]): Promise<Map<string, EntryMeta>> {
    const found = new Map<string, EntryMeta>();
    await Promise.all(
      this.metaGroups(players.map((player) => ({ player }))).map(async ({ store, key, items }) => {
        const values = await store.getFields(
          key,
          items.map(({ player }) => player),
        );
        values.forEach((value, position) => {
          if (value !== null) found.set(items[position]!.player, decodeMeta(value));
        });
      }),
    );
    return found;
  }

  async removeMeta(players: readonly string[]): Promise<void> {
    await Promise.all(
      this.metaGroups(players.map((player) => ({ player }))).map(({ store, key, items }) =>
        store.removeFields(
          key,
          items.map(({ player }) => player),
        ),
      ),
    );
  }

  /** A player left the score offset `from` for `to` (null: none), on a dense board. */
  moveDistinct(from: number | null, to: number | null): Promise<void> {
    return this.home.moveDistinct(`${this.base}:d`, `${this.base}:c`, from, to);
  }

  addDistinct(counts: ReadonlyMap<number, number>): Promise<void> {
    return this.home.addDistinct(`${this.base}:d`, `${this.base}:c`, counts);
  }

  /** Distinct scores better than the score offset `offset`: O(log n) in the distinct set. */
  distinctAbove(offset: number): Promise<number> {
    return this.home.sets.zcount(
      `${this.base}:d`,
      { value: offset, exclusive: true },
      Number.POSITIVE_INFINITY,
    );
  }

  /** Every key of this view, grouped by the store that holds it. */
  keysByStore(): Map<ShardStore, string[]> {
    const byStore = new Map<ShardStore, string[]>();
    const add = (store: ShardStore, key: string) => {
      const keys = byStore.get(store) ?? [];
      keys.push(key);
      byStore.set(store, keys);
    };
    add(this.home, `${this.base}:d`);
    add(this.home, `${this.base}:c`);
    if (this.shardCount === 0) {
      add(this.home, this.base);
      add(this.home, `${this.base}:m`);
    }
    for (let shard = 0; shard < this.shardCount; shard += 1) {
      add(this.storeOf(shard), `${this.base}:s${shard}`);
      add(this.storeOf(shard), `${this.base}:m${shard}`);
    }
    return byStore;
  }

  async drop(): Promise<void> {
    await Promise.all([...this.keysByStore()].map(([store, keys]) => store.del(keys)));
  }
}

/** The twin's answers to a single board's reads; keys resolve per call, as a swap may move them. */
function syncReads(home: MemoryShardStore, base: string): SyncBoardReads {
  const { sets } = home;
  const { keyspace } = sets;
  return {
    rankOf: (player) => keyspace.zrankWithScore(sets.physical(base), player, true),
    size: () => keyspace.zcard(sets.physical(base)),
    countAtLeast: (min) => keyspace.zcount(sets.physical(base), min, Number.POSITIVE_INFINITY),
    countBetween: (min, max) => keyspace.zcount(sets.physical(base), min, max),
    metaOf: (player) => {
      const text = home.getFieldNow(`${base}:m`, player);
      return text === null ? null : decodeMeta(text);
    },
    distinctAbove: (offset) =>
      keyspace.zcount(
        sets.physical(`${base}:d`),
        { value: offset, exclusive: true },
        Number.POSITIVE_INFINITY,
      ),
  };
}

export class ScoreIndex {
  /**
   * @param home the store of single boards, of distinct-score sets, and of every shard when
   *   `shardStores` is empty
   * @param shardStores the backends partitioned boards spread their shards over (shard i on i mod n)
   */
  constructor(
    readonly home: ShardStore,
    private readonly shardStores: readonly ShardStore[] = [],
  ) {}

  private readonly storeOf = (shard: number): ShardStore =>
    this.shardStores.length === 0 ? this.home : this.shardStores[shard % this.shardStores.length]!;

  of(board: IndexedBoard, periodStartMs: number): BoardView {
    return new BoardView(`b:${board.id}:${periodStartMs}`, board, this.home, this.storeOf);
  }

  /** The keys a rebuild fills before `swapIn` makes them the live ones. */
  rebuilding(board: IndexedBoard, periodStartMs: number): BoardView {
    return new BoardView(`b:${board.id}:${periodStartMs}${REBUILD_SUFFIX}`, board, this.home, this.storeOf);
  }

  /**
   * Replaces the live keys with the rebuilt ones: one atomic step per backend (RENAME in one
   * script on Redis, a pointer swap in the twin). With one backend a reader sees the old board or
   * the new one, never a mix; across several Redis servers each shard swaps on its own.
   */
  async swapIn(board: IndexedBoard, periodStartMs: number): Promise<void> {
    const live = this.of(board, periodStartMs).keysByStore();
    const built = this.rebuilding(board, periodStartMs).keysByStore();
    for (const [store, keys] of built) {
      const targets = live.get(store)!;
      await store.swap(keys.map((from, position) => ({ from, to: targets[position]! })));
    }
  }
}
