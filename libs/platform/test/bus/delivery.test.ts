import { statSync } from 'node:fs';
import { join } from 'node:path';
import { tempDirSync } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { backoffDelayMs, deliverWithRetry, normaliseRetryPolicy, pause } from '../../src/bus/delivery.js';
import { COMPACT_AFTER_COMMITS, GroupOffsets } from '../../src/bus/group-offsets.js';
import { partitionOf } from '../../src/bus/in-process.js';
import { BusErrorCode, createEventBus, parseBrokers, stderrBusLogger } from '../../src/bus/index.js';
import { backendVars, ConfigError, loadConfig } from '../../src/config.js';

describe('retry policy', () => {
  it('doubles the backoff per failure up to the cap, with at most the upper half random', () => {
    // With random() pinned to 0 and to 1, the delay spans [step/2, step] for step = base * 2^(n-1), capped.
    const policy = normaliseRetryPolicy({ backoffBaseMs: 100, backoffMaxMs: 1_000 });
    expect([1, 2, 3, 4, 5].map((failures) => backoffDelayMs(failures, policy, () => 0))).toEqual([
      50, 100, 200, 400, 500,
    ]);
    expect([1, 2, 3, 4, 5].map((failures) => backoffDelayMs(failures, policy, () => 1))).toEqual([
      100, 200, 400, 800, 1_000,
    ]);
    expect(backoffDelayMs(1_000, policy, () => 1)).toBe(1_000);
  });

  it('rejects retry options outside their bounds', () => {
    // maxAttempts must be 1..100 and the base must not exceed the cap.
    expect(() => normaliseRetryPolicy({ maxAttempts: 0 })).toThrow(
      expect.objectContaining({ code: BusErrorCode.invalidOption }),
    );
    expect(() => normaliseRetryPolicy({ maxAttempts: 1_000 })).toThrow(/maxAttempts/);
    expect(() => normaliseRetryPolicy({ backoffBaseMs: 10, backoffMaxMs: 5 })).toThrow(/backoffBaseMs/);
  });

  it('stops retrying as soon as the subscription starts closing', async () => {
    // A handler that always fails, a long backoff, and the stop signal raised during the first
    // pause: the outcome is "abandoned" after one attempt, not a dead letter.
    const stop = new AbortController();
    let attempts = 0;
    const outcome = deliverWithRetry(
      () => {
        attempts++;
        throw new Error('always');
      },
      { topic: 't', key: 'k', value: 1, headers: {}, partition: 0, offset: '0', timestamp: 0, id: 'x' },
      normaliseRetryPolicy({ maxAttempts: 5, backoffBaseMs: 60_000, backoffMaxMs: 60_000 }),
      {
        stopRetrying: stop.signal,
        abandon: new AbortController().signal,
        pauseBetweenAttempts: pause,
        onRetry: () => stop.abort(),
      },
    );
    expect(await outcome).toEqual({ kind: 'abandoned' });
    expect(attempts).toBe(1);
  });
});

describe('group offsets file', () => {
  it('compacts to one line per partition after many commits and reloads the latest positions', () => {
    // More commits than the compaction threshold: the file stays a few lines long and a reload
    // returns the last committed position of each partition.
    const dir = tempDirSync('bus-offsets-');
    const path = join(dir, 'g.offsets');
    const offsets = GroupOffsets.create(path, [0, 0], 'never');
    for (let offset = 1; offset <= COMPACT_AFTER_COMMITS + 5; offset++) offsets.commit(offset % 2, offset);
    offsets.close();
    expect(statSync(path).size).toBeLessThan(1_000);
    const reloaded = GroupOffsets.load(path, 2, 'never', stderrBusLogger)!;
    expect([reloaded.get(0), reloaded.get(1)]).toEqual([
      COMPACT_AFTER_COMMITS + 4,
      COMPACT_AFTER_COMMITS + 5,
    ]);
    reloaded.close();
  });
});

describe('createEventBus', () => {
  it('opens the in-process bus when no brokers are configured', async () => {
    // KAFKA_BROKERS unset or empty means the embedded mode; kafkajs is not needed for it.
    const bus = await createEventBus({ clientId: 'test', kafkaBrokers: ' , ' });
    expect(bus.kind).toBe('in-process');
    await bus.close();
  });

  it('refuses BUS=redis without REDIS_URL, or beside KAFKA_BROKERS, with a ConfigError naming the variables', async () => {
    // Each selection names the mistake instead of falling back to another bus.
    await expect(createEventBus({ clientId: 'test', bus: 'redis' })).rejects.toThrow(ConfigError);
    await expect(createEventBus({ clientId: 'test', bus: 'redis' })).rejects.toThrow(/BUS.*REDIS_URL/);
    await expect(
      createEventBus({
        clientId: 'test',
        bus: 'redis',
        redisUrl: 'redis://127.0.0.1:9',
        kafkaBrokers: 'k:9092',
      }),
    ).rejects.toThrow(/BUS: redis conflicts with KAFKA_BROKERS/);
  });

  it('reads BUS from the environment as in-process or redis, and nothing else', () => {
    // A typo in BUS fails at start like any bad variable, instead of silently staying in-process.
    const schema = z.object({ BUS: backendVars.BUS });
    expect(loadConfig(schema, { BUS: 'redis' }).BUS).toBe('redis');
    expect(loadConfig(schema, {}).BUS).toBeUndefined();
    expect(() => loadConfig(schema, { BUS: 'rabbit' })).toThrow(ConfigError);
  });

  it('reads KAFKA_BROKERS as a comma-separated list', () => {
    // Whitespace and empty entries are dropped.
    expect(parseBrokers('a:9092, b:9092,,')).toEqual(['a:9092', 'b:9092']);
    expect(parseBrokers(undefined)).toEqual([]);
  });

  it('spreads keys over partitions and maps a key to the same partition every time', () => {
    // 1000 keys over 8 partitions: every partition gets a fair share, and hashing is deterministic.
    const counts = new Array<number>(8).fill(0);
    for (let index = 0; index < 1_000; index++) counts[partitionOf(`user-${index}`, 8)]!++;
    for (const count of counts) expect(count).toBeGreaterThan(80);
    expect(partitionOf('user-1', 8)).toBe(partitionOf('user-1', 8));
  });
});
