import { MemorySortedSetStore, type SortedSetStore } from '@sysdesign/platform';
import { seededRandom } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import { TieBreakEncoding } from '../src/domain/encoding.js';
import { HashPartitionedIndex, hashShard, RangePartitionedIndex } from '../src/store/partitions.js';

/**
 * Past one Redis, on random boards: range partitions give exactly the single-shard rank and top
 * (players moving between ranges on update), hash partitions give the exact top N by
 * scatter-gather and an approximate rank from per-shard equi-depth sketches: the true rank always
 * lies in the bracket served with it, and the estimate's error is measured here.
 */

const encoding = new TieBreakEncoding({
  sortOrder: 'desc',
  scoreMin: 0,
  scoreMax: 1_000_000,
  timeResolutionMs: 1_000,
});
const PLAYERS = 2_000;

interface Update {
  player: string;
  indexScore: number;
}

/** Each player scores several times (best kept by the caller's order), some at equal scores and ticks. */
function randomUpdates(seed: number, draw: (random: () => number) => number): Update[] {
  const random = seededRandom(seed);
  const updates: Update[] = [];
  for (let round = 0; round < 3; round += 1) {
    for (let index = 0; index < PLAYERS; index += 1) {
      const score = Math.min(1_000_000, Math.floor(draw(random)));
      const tick = Math.floor(random() * 50);
      updates.push({
        player: `player-${Math.floor(random() * PLAYERS)}`,
        indexScore: encoding.encode(score, tick * 1_000, 0),
      });
    }
  }
  return updates;
}

const uniform = (random: () => number) => random() * 1_000_001;
// Most players low, a long tail of high scores: the shape real boards have.
const skewed = (random: () => number) => -Math.log(1 - random()) * 50_000;

async function single(updates: Update[]): Promise<{ store: SortedSetStore; latest: Map<string, number> }> {
  const store = new MemorySortedSetStore();
  const latest = new Map<string, number>();
  for (const { player, indexScore } of updates) {
    await store.zadd('single', [{ member: player, score: indexScore }]);
    latest.set(player, indexScore);
  }
  return { store, latest };
}

describe('range partitions', () => {
  for (const [name, draw] of [
    ['uniform', uniform],
    ['skewed', skewed],
  ] as const) {
    it(`equal the single-shard rank of every player and the top 100 exactly (${name} scores)`, async () => {
      const updates = randomUpdates(7, draw);
      const reference = await single(updates);
      // Four ranges as four keys on one store, and the last two on stores of their own.
      const shared = new MemorySortedSetStore();
      const shards = [
        { store: shared, key: 'r0' },
        { store: shared, key: 'r1' },
        { store: new MemorySortedSetStore(), key: 'r2' },
        { store: new MemorySortedSetStore(), key: 'r3' },
      ];
      const bounds = [800_000, 400_000, 100_000].map((score) => encoding.lowestIndexOf(score));
      const ranged = new RangePartitionedIndex(shards, bounds);
      const previous = new Map<string, number>();
      for (const { player, indexScore } of updates) {
        await ranged.put(player, indexScore, previous.get(player) ?? null);
        previous.set(player, indexScore);
      }
      for (const player of reference.latest.keys()) {
        expect((await ranged.rankOf(player))?.rank).toBe(await reference.store.zrank('single', player, true));
      }
      expect(await ranged.range(700, 799)).toEqual(
        await reference.store.zrange('single', 700, 799, { rev: true }),
      );
      expect(await ranged.range(0, 99)).toEqual(await reference.store.zrange('single', 0, 99, { rev: true }));
      const total = (await Promise.all(shards.map(({ store, key }) => store.zcard(key)))).reduce(
        (a, b) => a + b,
      );
      expect(total).toBe(reference.latest.size);
    });
  }
});

describe('hash partitions', () => {
  for (const [name, draw, errorMax] of [
    ['uniform', uniform, 0.005],
    ['skewed', skewed, 0.02],
  ] as const) {
    it(`gather the exact top 100 and bracket every rank from 64-bucket sketches (${name} scores)`, async () => {
      const updates = randomUpdates(9, draw);
      const reference = await single(updates);
      const hashed = new HashPartitionedIndex(
        Array.from({ length: 4 }, (_, index) => ({ store: new MemorySortedSetStore(), key: `h${index}` })),
      );
      for (const { player, indexScore } of updates) await hashed.put(player, indexScore);
      expect(await hashed.range(100, 149)).toEqual(
        await reference.store.zrange('single', 100, 149, { rev: true }),
      );
      expect(await hashed.range(0, 99)).toEqual(await reference.store.zrange('single', 0, 99, { rev: true }));

      const buckets = 64;
      const sketches = await hashed.sketch(buckets);
      let errorSum = 0;
      let errorMaxSeen = 0;
      for (const [player] of reference.latest) {
        const exact = (await reference.store.zrank('single', player, true))!;
        expect((await hashed.rankOf(player))?.rank).toBe(exact);
        const approximate = (await hashed.approximateRankOf(player, sketches))!;
        expect(approximate.rankMin).toBeLessThanOrEqual(exact);
        expect(approximate.rankMax).toBeGreaterThanOrEqual(exact);
        // The bracket is at most one bucket wide on each other shard.
        const others = sketches.filter((_, shard) => shard !== hashShard(player, 4));
        const widthMax = others.reduce((total, sketch) => total + Math.ceil(sketch.size / buckets) + 1, 0);
        expect(approximate.rankMax - approximate.rankMin).toBeLessThanOrEqual(widthMax);
        const error = Math.abs(approximate.rank - exact) / reference.latest.size;
        errorSum += error;
        errorMaxSeen = Math.max(errorMaxSeen, error);
      }
      const meanError = errorSum / reference.latest.size;
      console.info(
        `[leaderboard] hash partitions, ${name} scores, ${reference.latest.size} players, 4 shards, ${buckets} buckets: ` +
          `rank error mean ${(meanError * 100).toFixed(3)} %, max ${(errorMaxSeen * 100).toFixed(3)} % of the board`,
      );
      expect(meanError).toBeLessThan(errorMax);
    });
  }
});
