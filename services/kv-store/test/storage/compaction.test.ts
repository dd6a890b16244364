import { seededRandom } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import {
  type CompactionCandidate,
  type CompactionPolicy,
  chooseCompaction,
  StorageEngine,
  sizeTieredBuckets,
} from '../../src/storage/index.js';
import { IoLimiter } from '../../src/storage/io-limiter.js';
import { bytes, dump, manualClock, pad, testOptions, text, useTempDirs } from './helpers.js';

const temp = useTempDirs();

const policy: CompactionPolicy = {
  minThreshold: 4,
  maxThreshold: 32,
  bucketLow: 0.5,
  bucketHigh: 1.5,
  minTableBytes: 1_000,
  tombstoneRatio: 0.2,
};

const table = (id: number, bytes: number, extra: Partial<CompactionCandidate> = {}): CompactionCandidate => ({
  id,
  bytes,
  entries: 100,
  tombstones: 0,
  createdAtMs: 0,
  ...extra,
});

describe('size-tiered policy', () => {
  it('groups tables of similar size and lumps every table under minTableBytes together', () => {
    // Small ones (< 1,000 B) share a bucket; 10k, 12k, 14k are similar; 100k stands alone.
    const buckets = sizeTieredBuckets(
      [table(1, 100), table(2, 900), table(3, 10_000), table(4, 12_000), table(5, 100_000), table(6, 14_000)],
      policy,
    );
    expect(buckets.map((bucket) => bucket.map((candidate) => candidate.id))).toEqual([
      [1, 2],
      [3, 4, 6],
      [5],
    ]);
  });

  it('merges the smallest bucket that reached minThreshold, at most maxThreshold of its tables', () => {
    // Two full buckets: the smaller tables win; a bucket of 40 is cut to the 32 smallest.
    const medium = [10, 11, 12, 13].map((id) => table(id, 10_000 + id));
    const small = [1, 2, 3, 4].map((id) => table(id, 100 * id));
    expect(chooseCompaction([...medium, ...small], policy, 0, 0)).toEqual({
      ids: [1, 2, 3, 4],
      reason: 'size-tiered',
    });
    const many = Array.from({ length: 40 }, (_, index) => table(index + 1, 10_000 + index));
    expect(chooseCompaction(many, policy, 0, 0)?.ids).toEqual(
      Array.from({ length: 32 }, (_, index) => index + 1),
    );
    expect(chooseCompaction(medium.slice(0, 3), policy, 0, 0)).toBeUndefined();
  });

  it('purges a lone table full of tombstones only once they are all past the grace period', () => {
    // 50% tombstones, created at 1,000 with a grace of 500: not at 1,499, yes at 1,500.
    const tables = [table(1, 5_000), table(2, 50_000, { tombstones: 50, createdAtMs: 1_000 })];
    expect(chooseCompaction(tables, policy, 1_499, 500)).toBeUndefined();
    expect(chooseCompaction(tables, policy, 1_500, 500)).toEqual({ ids: [2], reason: 'tombstones' });
    const few = [table(3, 5_000, { tombstones: 10, createdAtMs: 0 })];
    expect(chooseCompaction(few, policy, 10_000, 500)).toBeUndefined();
  });
});

describe('compaction', () => {
  it('matches a Map model through 6,000 random puts, overwrites and deletes with flushes and compactions', async () => {
    // Seeded random operations on 400 keys, small memtables, background plus forced compactions and a moving clock;
    // after each phase every get and the full scan agree with the model (expired tombstones may be gone).
    const clock = manualClock();
    const dir = await temp.dir();
    const options = testOptions(dir, {
      memtableBytes: 4 * 1024,
      autoCompaction: true,
      tombstoneGraceMs: 5_000,
      now: clock.now,
      blockBytes: 512,
    });
    let engine = temp.track(await StorageEngine.open(options));
    const model = new Map<string, string | null>();
    const random = seededRandom(20_240_601);
    for (let phase = 0; phase < 6; phase++) {
      for (let step = 0; step < 1_000; step++) {
        const key = `key-${pad(Math.floor(random() * 400), 4)}`;
        if (random() < 0.2) {
          await engine.delete(key);
          model.set(key, null);
        } else {
          const value = `p${phase}s${step}-${'x'.repeat(Math.floor(random() * 40))}`;
          await engine.put(key, bytes(value));
          model.set(key, value);
        }
        clock.advance(1);
      }
      if (phase % 2 === 1) await engine.compact({ major: true });
      if (phase === 3) {
        await engine.close();
        engine = temp.track(await StorageEngine.open(options));
      }
      await engine.idle();
      clock.advance(2_000);
      await expectMatchesModel(engine, model);
    }
    clock.advance(10_000);
    const report = await engine.compact({ major: true });
    expect(report?.tombstonesDropped).toBeGreaterThan(0);
    expect(engine.stats().tables.reduce((sum, stats) => sum + stats.tombstones, 0)).toBe(0);
    await expectMatchesModel(engine, model);
    const { counters } = engine.stats();
    expect(counters.flushes).toBeGreaterThan(10);
    expect(counters.compactions).toBeGreaterThan(3);
    expect(counters.shadowedDropped).toBeGreaterThan(0);
  });

  it('keeps an expired tombstone while a table outside the compaction may hold an older version', async () => {
    // Table A has k=old; table B has k's tombstone. Purging B alone must keep the tombstone, or k comes back.
    const clock = manualClock();
    const engine = temp.track(
      await StorageEngine.open(testOptions(await temp.dir(), { tombstoneGraceMs: 100, now: clock.now })),
    );
    for (let index = 0; index < 20; index++) await engine.put(`filler-${index}`, bytes('f'));
    await engine.put('k', bytes('old'));
    await engine.flush();
    await engine.delete('k');
    await engine.flush();
    clock.advance(1_000);
    const lone = await engine.compact();
    expect(lone).toMatchObject({ reason: 'tombstones', tombstonesDropped: 0, entriesWritten: 1 });
    expect(await engine.get('k')).toMatchObject({ kind: 'tombstone' });
    const major = await engine.compact({ major: true });
    expect(major).toMatchObject({ tombstonesDropped: 1, shadowedDropped: 1 });
    expect(await engine.get('k')).toBeUndefined();
    expect(text(await engine.getValue('filler-3'))).toBe('f');
  });

  it('keeps tombstones younger than the grace period through a major compaction', async () => {
    // A delete at t, compaction at t + grace - 1: the tombstone survives; at t + grace it goes.
    const clock = manualClock();
    const engine = temp.track(
      await StorageEngine.open(testOptions(await temp.dir(), { tombstoneGraceMs: 1_000, now: clock.now })),
    );
    await engine.put('k', bytes('v'));
    await engine.delete('k');
    await engine.flush();
    clock.advance(999);
    expect(await engine.compact({ major: true })).toMatchObject({ tombstonesDropped: 0 });
    expect((await engine.get('k'))?.kind).toBe('tombstone');
    clock.advance(1);
    expect(await engine.compact({ major: true })).toMatchObject({ tombstonesDropped: 1 });
    expect(engine.stats().tables).toHaveLength(0);
  });

  it('accepts and keeps concurrent puts while flushes and compactions run', async () => {
    // 3,000 puts in waves of 300 concurrent writers, with reads of earlier waves, while major compactions loop; all readable, also after reopen.
    const dir = await temp.dir();
    const options = testOptions(dir, { memtableBytes: 8 * 1024, autoCompaction: true });
    const engine = temp.track(await StorageEngine.open(options));
    let compacting = true;
    const compactions = (async () => {
      let runs = 0;
      while (compacting) {
        await engine.compact({ major: true });
        runs++;
        await new Promise((resolve) => setImmediate(resolve));
      }
      return runs;
    })();
    for (let wave = 0; wave < 10; wave++) {
      // Reads of earlier waves run alongside the writes, across flushes and table swaps.
      const reads = Array.from({ length: wave * 30 }, async (_, index) => {
        const key = `key-${pad((index % wave) * 300 + index)}`;
        expect(text(await engine.getValue(key)), key).toBe(`w${index % wave}-${index}`);
      });
      await Promise.all([
        ...reads,
        ...Array.from({ length: 300 }, (_, index) =>
          engine.put(`key-${pad(wave * 300 + index)}`, bytes(`w${wave}-${index}`)),
        ),
      ]);
    }
    compacting = false;
    expect(await compactions).toBeGreaterThan(1);
    await engine.idle();
    const check = async (target: StorageEngine) => {
      for (let wave = 0; wave < 10; wave++) {
        for (let index = 0; index < 300; index += 7) {
          expect(text(await target.getValue(`key-${pad(wave * 300 + index)}`))).toBe(`w${wave}-${index}`);
        }
      }
      expect((await dump(target, 1_000)).length).toBe(3_000);
    };
    await check(engine);
    expect(engine.stats().counters.flushes).toBeGreaterThan(5);
    await engine.close();
    const reopened = temp.track(await StorageEngine.open(options));
    await check(reopened);
    await reopened.close();
  });

  it('reads and writes compaction data no faster than compactionBytesPerSecond', async () => {
    // A recording sleep: the waits a compaction asks for add up to its bytes divided by the rate.
    const slept: number[] = [];
    let nowMs = 0;
    const engine = temp.track(
      await StorageEngine.open(
        testOptions(await temp.dir(), {
          compactionBytesPerSecond: 100_000,
          now: () => nowMs,
          sleep: async (ms) => {
            slept.push(ms);
            nowMs += ms;
          },
        }),
      ),
    );
    for (let round = 0; round < 4; round++) {
      for (let index = 0; index < 200; index++)
        await engine.put(`key-${pad(index)}`, bytes(`round-${round}-${'x'.repeat(50)}`));
      await engine.flush();
    }
    const report = (await engine.compact({ major: true }))!;
    const totalSleptMs = slept.reduce((sum, ms) => sum + ms, 0);
    const expectedMs = ((report.bytesRead + report.bytesWritten) / 100_000) * 1_000;
    // Block trailers and the table tail are not throttled, and the first 100 ms are burst allowance.
    expect(totalSleptMs).toBeGreaterThan(expectedMs * 0.7);
    expect(totalSleptMs).toBeLessThan(expectedMs * 1.1);
  });
});

describe('I/O limiter', () => {
  it('spaces consumption at the configured rate after a short burst', async () => {
    // 10 x 10 KB at 100 KB/s with the clock stopped: the first 10 KB fit the 100 ms burst, then each waits 100 ms longer.
    const waits: number[] = [];
    const limiter = new IoLimiter(
      100_000,
      () => 0,
      async (ms) => {
        waits.push(ms);
      },
    );
    for (let index = 0; index < 10; index++) await limiter.consume(10_000);
    expect(waits).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900]);
    const unlimited = new IoLimiter(
      0,
      () => 0,
      async () => {
        throw new Error('an unlimited limiter never sleeps');
      },
    );
    await unlimited.consume(1e9);
  });
});

async function expectMatchesModel(engine: StorageEngine, model: Map<string, string | null>): Promise<void> {
  for (const [key, value] of model) {
    const entry = await engine.get(key);
    if (value === null) {
      expect(entry === undefined || entry.kind === 'tombstone', key).toBe(true);
    } else {
      expect(entry?.kind, key).toBe('value');
      expect(text(entry?.value), key).toBe(value);
    }
  }
  const live = (await dump(engine)).filter(([, kind]) => kind === 'value');
  const expected = [...model]
    .filter((pair): pair is [string, string] => pair[1] !== null)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, value]) => [key, 'value', value]);
  expect(live).toEqual(expected);
}
