import { seededRandom } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import { type IndexedBoard, ScoreIndex } from '../src/store/score-index.js';
import { MemoryShardStore } from '../src/store/shard-store.js';

/**
 * The synchronous reads a rank read takes on the twin answer what the async port answers, on the
 * live keys, also after a rebuild swapped new keys in; boards they cannot serve have none.
 */

const single: IndexedBoard = {
  id: 'sync',
  partitioning: { kind: 'single' },
  sortOrder: 'desc',
  scoreMin: 0,
  scoreMax: 1_000,
  timeResolutionMs: 1_000,
};

describe('synchronous reads on the twin', () => {
  it('agree with the async port on random entries, and follow a swapped-in rebuild', async () => {
    const index = new ScoreIndex(new MemoryShardStore());
    const random = seededRandom(7);
    const fill = async (view: ReturnType<ScoreIndex['of']>, players: number) => {
      const entries = Array.from({ length: players }, (_, n) => ({
        member: `p${n}`,
        score: Math.floor(random() * 50),
      }));
      await view.index.putMany(entries);
      await view.putMeta(
        entries.map(({ member }, n) => ({
          player: member,
          meta: { reachedAtMs: n, displayName: `n${n}`, subScore: n % 3 === 0 ? null : n },
        })),
      );
      const counts = new Map<number, number>();
      for (const { score } of entries) counts.set(score, (counts.get(score) ?? 0) + 1);
      await view.addDistinct(counts);
    };
    const check = async (view: ReturnType<ScoreIndex['of']>, players: number) => {
      const now = view.now!;
      expect(now.size()).toBe(await view.index.size());
      expect(now.size()).toBe(players);
      for (let n = 0; n < players + 2; n += 1) {
        const player = `p${n}`;
        expect(now.rankOf(player), player).toEqual(await view.index.rankOf(player));
        expect(now.metaOf(player), player).toEqual((await view.metaOf([player])).get(player) ?? null);
      }
      for (let score = -1; score <= 51; score += 1) {
        expect(now.countAtLeast(score)).toBe(await view.index.countAtLeast(score));
        expect(now.countBetween(score, score + 3)).toBe(await view.index.countBetween(score, score + 3));
        expect(now.distinctAbove(score)).toBe(await view.distinctAbove(score));
      }
    };
    const live = index.of(single, 0);
    await fill(live, 200);
    await check(live, 200);
    // A rebuild fills other keys and swaps them in: a view made before the swap reads the new ones.
    await fill(index.rebuilding(single, 0), 120);
    await index.swapIn(single, 0);
    await check(live, 120);
    expect(live.now!.rankOf('p150')).toBeNull();
  });

  it('are absent on partitioned boards, which read through the async port', () => {
    const index = new ScoreIndex(new MemoryShardStore());
    expect(index.of({ ...single, partitioning: { kind: 'hash', shards: 4 } }, 0).now).toBeNull();
    expect(index.of({ ...single, partitioning: { kind: 'range', bounds: [10] } }, 0).now).toBeNull();
    expect(index.of(single, 0).now).not.toBeNull();
  });
});
