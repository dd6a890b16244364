import type { SortedSetStore } from '@sysdesign/platform';
import type { Board } from '../domain/board.js';
import { TieBreakEncoding } from '../domain/encoding.js';
import { type BoardIndex, HashPartitionedIndex, RangePartitionedIndex, SingleIndex } from './partitions.js';

/**
 * The serving index: per board and period, one sorted set (`b:{board}:{periodStart}`) or its
 * shards (`…:s{i}`) on the store, members are player ids, scores the tie-break encoding (a higher
 * index score ranks higher, on every board). Redis or the twin, behind the platform's port.
 */
export class ScoreIndex {
  constructor(readonly store: SortedSetStore) {}

  of(
    board: Pick<Board, 'id' | 'partitioning' | 'sortOrder' | 'scoreMin' | 'scoreMax' | 'timeResolutionMs'>,
    periodStartMs: number,
  ): BoardIndex {
    const key = `b:${board.id}:${periodStartMs}`;
    const { partitioning } = board;
    if (partitioning.kind === 'single') return new SingleIndex({ store: this.store, key });
    const count = partitioning.kind === 'hash' ? partitioning.shards : partitioning.bounds.length + 1;
    const shards = Array.from({ length: count }, (_, index) => ({
      store: this.store,
      key: `${key}:s${index}`,
    }));
    if (partitioning.kind === 'hash') return new HashPartitionedIndex(shards);
    const encoding = new TieBreakEncoding(board);
    return new RangePartitionedIndex(
      shards,
      partitioning.bounds.map((bound) => encoding.lowestIndexOf(bound)),
    );
  }
}
