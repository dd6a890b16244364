import { describe, expect, it } from 'vitest';
import {
  ClockMovedBackwardsError,
  CompiledLayout,
  GeneratorUnavailableError,
  SNOWFLAKE_LAYOUT,
  SnowflakeGenerator,
  SONYFLAKE_LAYOUT,
  type Wait,
} from '../../src/index.js';

const EPOCH_MS = 1_704_067_200_000;

/** A clock that moves only when told to. */
class ManualClock {
  constructor(public now = EPOCH_MS + 1_000_000) {}
  nowMs() {
    return this.now;
  }
}

function isWait(result: bigint | Wait): result is Wait {
  return typeof result !== 'bigint';
}

describe('bit layouts', () => {
  it('round-trips every field of both presets at their extremes', () => {
    // Encoding and decoding live in one module; a shift off by one would corrupt the max values.
    const snowflake = new CompiledLayout(SNOWFLAKE_LAYOUT);
    const max = { time: 2 ** 41 - 1, datacenterId: 31, workerId: 31, sequence: 4095 };
    expect(snowflake.decode(snowflake.encode(max))).toEqual(max);
    expect(snowflake.encode(max)).toBe((1n << 63n) - 1n);
    const sonyflake = new CompiledLayout(SONYFLAKE_LAYOUT);
    const values = { time: 123_456_789, sequence: 255, machineId: 65_535 };
    expect(sonyflake.decode(sonyflake.encode(values))).toEqual(values);
  });

  it('rejects a field value that does not fit', () => {
    const layout = new CompiledLayout(SNOWFLAKE_LAYOUT);
    expect(() => layout.encode({ workerId: 32 })).toThrow(RangeError);
    expect(() => layout.decode(-1n)).toThrow(RangeError);
  });
});

describe('SnowflakeGenerator', () => {
  it('issues 1,000,000 unique, strictly increasing ids from one worker', () => {
    // The design's core claim, on the real clock: sequence exhaustion must wait, never wrap.
    const generator = new SnowflakeGenerator({ node: { datacenterId: 3, workerId: 7 }, epochMs: EPOCH_MS });
    let previous = -1n;
    const seen = new Set<bigint>();
    for (let index = 0; index < 1_000_000; index += 1) {
      const id = generator.nextSync();
      if (id <= previous) throw new Error(`id ${id} after ${previous}`);
      previous = id;
      seen.add(id);
    }
    expect(seen.size).toBe(1_000_000);
    const { fields } = generator.decode(previous);
    expect(fields).toMatchObject({ datacenterId: 3, workerId: 7 });
  });

  it('keeps ids unique across 4 workers interleaved, each worker strictly increasing', () => {
    // Workers share no state; uniqueness comes from the node bits alone.
    const workers = [0, 1, 2, 3].map(
      (workerId) => new SnowflakeGenerator({ node: { datacenterId: 1, workerId }, epochMs: EPOCH_MS }),
    );
    const seen = new Set<bigint>();
    const last = [-1n, -1n, -1n, -1n];
    for (let index = 0; index < 400_000; index += 1) {
      const worker = index % 4;
      const id = workers[worker]!.nextSync();
      if (id <= last[worker]!) throw new Error(`worker ${worker} went backwards: ${id}`);
      last[worker] = id;
      seen.add(id);
    }
    expect(seen.size).toBe(400_000);
  });

  it('waits for the next millisecond when the 4,096 sequences of one are used up', () => {
    // Sequence exhaustion inside one unit: the 4,097th call must ask to wait, not wrap to 0.
    const clock = new ManualClock();
    const generator = new SnowflakeGenerator({
      node: { datacenterId: 0, workerId: 0 },
      epochMs: EPOCH_MS,
      clock,
    });
    const ids: bigint[] = [];
    for (let index = 0; index < 4096; index += 1) {
      const result = generator.tryNext();
      if (isWait(result)) throw new Error('waited too early');
      ids.push(result);
    }
    expect(generator.tryNext()).toEqual({ waitMs: 1, reason: 'sequence-exhausted' });
    clock.now += 1;
    const next = generator.tryNext();
    expect(typeof next).toBe('bigint');
    expect((next as bigint) > ids.at(-1)!).toBe(true);
  });

  it('waits out a small clock rollback and never issues a smaller or duplicate id', () => {
    // NTP steps back 3 ms (within the 5 ms bound): wait, then continue above the last id.
    const clock = new ManualClock();
    const rollbacks: Array<[number, boolean]> = [];
    const generator = new SnowflakeGenerator({
      node: { datacenterId: 0, workerId: 1 },
      epochMs: EPOCH_MS,
      clock,
      maxRollbackMs: 5,
      observer: { onClockRollback: (ms, refused) => rollbacks.push([ms, refused]) },
    });
    const first = generator.tryNext() as bigint;
    clock.now -= 3;
    expect(generator.tryNext()).toEqual({ waitMs: 3, reason: 'clock-rollback' });
    expect(rollbacks).toEqual([[3, false]]);
    clock.now += 3;
    const after = generator.tryNext() as bigint;
    expect(after > first).toBe(true);
  });

  it('refuses a clock rollback beyond the bound, then recovers once the clock catches up', () => {
    // A 2 s step back must fail fast (503 upstream) and be counted, not block or duplicate.
    const clock = new ManualClock();
    const rollbacks: Array<[number, boolean]> = [];
    const generator = new SnowflakeGenerator({
      node: { datacenterId: 0, workerId: 1 },
      epochMs: EPOCH_MS,
      clock,
      maxRollbackMs: 5,
      observer: { onClockRollback: (ms, refused) => rollbacks.push([ms, refused]) },
    });
    const first = generator.tryNext() as bigint;
    clock.now -= 2_000;
    expect(() => generator.tryNext()).toThrow(ClockMovedBackwardsError);
    expect(rollbacks).toEqual([[2_000, true]]);
    clock.now += 2_000;
    expect((generator.tryNext() as bigint) > first).toBe(true);
  });

  it('never uses a time unit at or below a raised floor', () => {
    // A previous holder of this worker id may have used times up to the floor.
    const clock = new ManualClock();
    const generator = new SnowflakeGenerator({
      node: { datacenterId: 0, workerId: 2 },
      epochMs: EPOCH_MS,
      clock,
    });
    generator.raiseFloor(clock.now + 2);
    expect(generator.tryNext()).toEqual({ waitMs: 2, reason: 'clock-rollback' });
    clock.now += 2;
    expect(generator.tryNext()).toEqual({ waitMs: 1, reason: 'sequence-exhausted' });
    clock.now += 1;
    const id = generator.tryNext() as bigint;
    expect(generator.decode(id).timestamp.getTime()).toBe(clock.now);
  });

  it('refuses ids past the lease ceiling and while suspended', () => {
    const clock = new ManualClock();
    const generator = new SnowflakeGenerator({
      node: { datacenterId: 0, workerId: 2 },
      epochMs: EPOCH_MS,
      clock,
    });
    generator.setCeiling(clock.now + 10);
    expect(typeof generator.tryNext()).toBe('bigint');
    clock.now += 11;
    expect(() => generator.tryNext()).toThrow(GeneratorUnavailableError);
    generator.setCeiling(clock.now + 10);
    generator.suspend('lease lost');
    expect(() => generator.tryNext()).toThrow(/lease lost/);
    generator.resume();
    expect(typeof generator.tryNext()).toBe('bigint');
  });

  it('gives Sonyflake 256 ids per 10 ms unit and decodes its machine id', () => {
    const clock = new ManualClock();
    const generator = new SnowflakeGenerator({
      layout: SONYFLAKE_LAYOUT,
      node: { machineId: 40_000 },
      epochMs: EPOCH_MS,
      clock,
    });
    let last = -1n;
    for (let index = 0; index < 256; index += 1) {
      const id = generator.tryNext() as bigint;
      expect(id > last).toBe(true);
      last = id;
    }
    const wait = generator.tryNext() as Wait;
    expect(wait.reason).toBe('sequence-exhausted');
    expect(wait.waitMs).toBeLessThanOrEqual(10);
    expect(generator.decode(last).fields).toMatchObject({ machineId: 40_000, sequence: 255 });
  });

  it('produces strictly increasing ids from concurrent async batches', async () => {
    // Batches of many requests interleave at await points; each id is still taken atomically.
    const generator = new SnowflakeGenerator({
      layout: SONYFLAKE_LAYOUT,
      node: { machineId: 1 },
      epochMs: EPOCH_MS,
    });
    const batches = await Promise.all(Array.from({ length: 8 }, () => generator.nextBatch(300)));
    const all = batches.flat();
    expect(new Set(all).size).toBe(2_400);
    for (const batch of batches) {
      for (let index = 1; index < batch.length; index += 1)
        expect(batch[index]! > batch[index - 1]!).toBe(true);
    }
  });
});
