import { fileURLToPath } from 'node:url';
import {
  type BusHandler,
  createKafkaEventBus,
  EmbeddedPostgres,
  type EventBus,
  InProcessEventBus,
  MESSAGE_ID_HEADER,
  migrate,
  type Sql,
} from '@sysdesign/platform';
import { describeWith, freshSchemaName, kafkaBackend, tempDirSync, waitFor } from '@sysdesign/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLICKS_TOPIC, type ClickBatch, type ClickEvent } from '../../src/domain/clicks.js';
import { type ClickStore, PostgresClickStore } from '../../src/store/click-store.js';
import { PostgresLinkStore } from '../../src/store/link-store.js';
import { ClickAggregator, type ClickAggregatorOptions } from '../../src/workers/click-aggregator.js';
import { ClickPublisher } from '../../src/workers/click-publisher.js';

const MIGRATIONS = fileURLToPath(new URL('../../migrations', import.meta.url));
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const RETENTION = {
  dedupeRetentionMs: 3_600_000,
  minutesRetentionMs: 3_600_000,
  referrerRetentionMs: 86_400_000,
};

let embedded: EmbeddedPostgres;
beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
});
afterAll(async () => embedded.close());

/** A fresh schema with `codes` as live links. */
async function freshStore(codes: string[]): Promise<{ sql: Sql; store: PostgresClickStore }> {
  const sql = await embedded.forSchema(freshSchemaName('clicks'));
  await migrate(sql, MIGRATIONS);
  const links = new PostgresLinkStore(sql);
  for (const code of codes) {
    await links.insert({
      code,
      url: `https://example.com/${code}`,
      kind: 'alias',
      owner: undefined,
      createdAt: new Date(),
      expiresAt: undefined,
      maxClicks: undefined,
    });
  }
  return { sql, store: new PostgresClickStore(sql) };
}

function clicksFor(code: string, count: number): ClickEvent[] {
  return Array.from({ length: count }, (_, index) => ({
    code,
    at: Date.now() + index,
    referrer: 'direct',
    device: 'desktop' as const,
  }));
}

async function totalOf(store: ClickStore, code: string): Promise<number> {
  return (await store.stats(code, Date.now())).total;
}

/** Waits for `expected` and then checks that nothing more arrives for a moment. */
async function expectExactly(store: ClickStore, code: string, expected: number): Promise<void> {
  await waitFor(async () => (await totalOf(store, code)) >= expected, `${expected} clicks on ${code}`, {
    timeoutMs: 15_000,
  });
  await new Promise((resolve) => setTimeout(resolve, 150));
  expect(await totalOf(store, code)).toBe(expected);
}

function aggregatorOptions(
  bus: EventBus,
  store: ClickStore,
  overrides: Partial<ClickAggregatorOptions> = {},
): ClickAggregatorOptions {
  return {
    bus,
    store,
    flushIntervalMs: 200,
    flushMaxClicks: 10_000,
    flushIdleMs: 10,
    retention: RETENTION,
    logger: silent,
    ...overrides,
  };
}

function publisher(bus: EventBus, overrides: Partial<ConstructorParameters<typeof ClickPublisher>[0]> = {}) {
  return new ClickPublisher({
    bus,
    lingerMs: 5,
    batchMax: 50,
    bufferMax: 100_000,
    logger: silent,
    ...overrides,
  });
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function durableBus(dir: string): Promise<InProcessEventBus> {
  // A short drain timeout: held handlers of an abandoned aggregator are given up at once.
  return InProcessEventBus.open({ dir, drainTimeoutMs: 100, logger: silent });
}

describe('click analytics as a stream (durable in-process bus, PGlite)', () => {
  it('counts exactly 1,000 clicks published in batches from 20 redirect bursts', async () => {
    const dir = tempDirSync('url-shortener-pipeline-');
    const bus = await durableBus(dir);
    cleanups.push(() => bus.close());
    const { store } = await freshStore(['aaa', 'bbb']);
    const aggregator = await ClickAggregator.start(aggregatorOptions(bus, store));
    cleanups.push(() => aggregator.stop());
    const clicks = publisher(bus);
    for (let burst = 0; burst < 20; burst++) {
      for (const click of [...clicksFor('aaa', 40), ...clicksFor('bbb', 10)]) clicks.record(click);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await clicks.close();
    await expectExactly(store, 'aaa', 800);
    await expectExactly(store, 'bbb', 200);
  });

  it('counts exactly N when the aggregator dies after a flush committed but before the bus heard of it', async () => {
    // The worst moment to crash: counts are in the database, the messages are not committed on the
    // bus, and the next aggregator (after a restart from disk) receives them again. Dedupe by id
    // must keep them from counting twice; holding until the flush must keep none from being lost.
    const dir = tempDirSync('url-shortener-crash-');
    const { store } = await freshStore(['crash']);
    const N = 1_200;
    let bus = await durableBus(dir);
    const clicks = publisher(bus, { batchMax: 25 });
    for (const click of clicksFor('crash', N)) clicks.record(click);
    await clicks.close();

    let applies = 0;
    let reachedCrashPoint!: () => void;
    const crashPoint = new Promise<void>((resolve) => {
      reachedCrashPoint = resolve;
    });
    const dying: ClickStore = {
      ...store,
      stats: store.stats.bind(store),
      checkpoints: store.checkpoints.bind(store),
      prune: store.prune.bind(store),
      async apply(batches: readonly ClickBatch[]) {
        applies++;
        const result = await store.apply(batches);
        if (applies === 3) {
          reachedCrashPoint();
          return new Promise<never>(() => undefined); // Committed, and never reports back.
        }
        return result;
      },
    };
    const first = await ClickAggregator.start(aggregatorOptions(bus, dying, { flushMaxClicks: 100 }));
    await crashPoint;
    const countedBeforeCrash = await totalOf(store, 'crash');
    expect(countedBeforeCrash).toBeGreaterThan(0);
    expect(countedBeforeCrash).toBeLessThan(N);
    await first.abandon();
    await bus.close();

    bus = await durableBus(dir);
    cleanups.push(() => bus.close());
    const second = await ClickAggregator.start(aggregatorOptions(bus, store));
    cleanups.push(() => second.stop());
    await expectExactly(store, 'crash', N);
    const checkpoints = await store.checkpoints(CLICKS_TOPIC);
    expect(checkpoints.reduce((sum, entry) => sum + entry.clicks, 0)).toBe(N);
  });

  it('counts exactly N when every message is delivered twice, across flushes', async () => {
    // At-least-once means duplicates: this bus hands each message to the handler twice in a row.
    const { store } = await freshStore(['twice']);
    const inner = await InProcessEventBus.open({ logger: silent });
    cleanups.push(() => inner.close());
    const doubling: EventBus = {
      kind: inner.kind,
      publish: inner.publish.bind(inner),
      ping: inner.ping.bind(inner),
      close: inner.close.bind(inner),
      subscribe: (topic, group, handler, options) =>
        inner.subscribe(
          topic,
          group,
          async (message) => {
            await (handler as BusHandler)(message);
            await (handler as BusHandler)({ ...message, attempt: message.attempt + 1 });
          },
          options,
        ),
    };
    const aggregator = await ClickAggregator.start(aggregatorOptions(doubling, store));
    cleanups.push(() => aggregator.stop());
    const clicks = publisher(inner, { batchMax: 10 });
    for (const click of clicksFor('twice', 500)) clicks.record(click);
    await clicks.close();
    await expectExactly(store, 'twice', 500);
  });

  it('counts a batch once when the publisher retried it and the bus kept both copies', async () => {
    // A publish that timed out may still have been written: the retry carries the same message id.
    const { store } = await freshStore(['retry']);
    const bus = await InProcessEventBus.open({ logger: silent });
    cleanups.push(() => bus.close());
    let publishes = 0;
    const flaky: EventBus = {
      kind: bus.kind,
      subscribe: bus.subscribe.bind(bus),
      ping: bus.ping.bind(bus),
      close: bus.close.bind(bus),
      async publish(topic, key, value, headers) {
        publishes++;
        const receipt = await bus.publish(topic, key, value, headers);
        if (publishes === 1) throw new Error('timed out waiting for acks'); // Written, but reported failed.
        return receipt;
      },
    };
    const aggregator = await ClickAggregator.start(aggregatorOptions(bus, store));
    cleanups.push(() => aggregator.stop());
    const clicks = publisher(flaky, { batchMax: 1_000 });
    for (const click of clicksFor('retry', 30)) clicks.record(click);
    await clicks.close();
    expect(publishes).toBe(2);
    await expectExactly(store, 'retry', 30);
  });

  it('holds messages uncommitted while flushes fail, and counts them exactly once when the store is back', async () => {
    const { store } = await freshStore(['outage']);
    const bus = await InProcessEventBus.open({ logger: silent });
    cleanups.push(() => bus.close());
    let failuresLeft = 3;
    let flushFailures = 0;
    const flakyStore: ClickStore = {
      stats: store.stats.bind(store),
      checkpoints: store.checkpoints.bind(store),
      prune: store.prune.bind(store),
      async apply(batches) {
        if (failuresLeft-- > 0) throw new Error('database unavailable');
        return store.apply(batches);
      },
    };
    const aggregator = await ClickAggregator.start(
      aggregatorOptions(bus, flakyStore, { observer: { onFlushFailed: () => flushFailures++ } }),
    );
    cleanups.push(() => aggregator.stop());
    const clicks = publisher(bus);
    for (const click of clicksFor('outage', 300)) clicks.record(click);
    await clicks.close();
    await expectExactly(store, 'outage', 300);
    expect(flushFailures).toBe(3);
  });

  it('skips and counts invalid messages without blocking the partition', async () => {
    const { store } = await freshStore(['valid']);
    const bus = await InProcessEventBus.open({ logger: silent, partitions: 1 });
    cleanups.push(() => bus.close());
    let invalid = 0;
    const aggregator = await ClickAggregator.start(
      aggregatorOptions(bus, store, { observer: { onInvalidMessage: () => invalid++ } }),
    );
    cleanups.push(() => aggregator.stop());
    await bus.publish(CLICKS_TOPIC, 'k', { v: 2, clicks: [] });
    await bus.publish(CLICKS_TOPIC, 'k', {
      v: 1,
      clicks: [{ code: 'bad code!', at: 1, referrer: 'x', device: 'desktop' }],
    });
    await bus.publish(CLICKS_TOPIC, 'k', 'not an object');
    await bus.publish(
      CLICKS_TOPIC,
      'k',
      { v: 1, clicks: clicksFor('valid', 3) },
      { [MESSAGE_ID_HEADER]: 'valid-1' },
    );
    await expectExactly(store, 'valid', 3);
    expect(invalid).toBe(3);
  });

  it('flushes on its own when the stream goes quiet, long before the interval', async () => {
    // Partitions wait on the flush: holding messages for the full interval would only add lag.
    const { store } = await freshStore(['quiet']);
    const bus = await InProcessEventBus.open({ logger: silent });
    cleanups.push(() => bus.close());
    const aggregator = await ClickAggregator.start(
      aggregatorOptions(bus, store, { flushIntervalMs: 60_000, flushIdleMs: 20 }),
    );
    cleanups.push(() => aggregator.stop());
    const started = Date.now();
    await bus.publish(CLICKS_TOPIC, 'k', { v: 1, clicks: clicksFor('quiet', 5) });
    await expectExactly(store, 'quiet', 5);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('drops and counts clicks past the publish buffer instead of holding them without bound', async () => {
    const bus = await InProcessEventBus.open({ logger: silent });
    cleanups.push(() => bus.close());
    let dropped = 0;
    const stuck: EventBus = {
      ...bus,
      kind: bus.kind,
      subscribe: bus.subscribe.bind(bus),
      ping: bus.ping.bind(bus),
      close: bus.close.bind(bus),
      publish: () => new Promise(() => undefined),
    };
    const clicks = publisher(stuck, {
      batchMax: 10,
      bufferMax: 1_000,
      observer: { onDropped: (count) => (dropped += count) },
    });
    for (const click of clicksFor('drop', 1_500)) clicks.record(click);
    expect(clicks.waiting).toBe(1_000);
    expect(dropped).toBe(500);
    await clicks.close(50);
    expect(dropped).toBe(1_500);
  });
});

describeWith(await kafkaBackend(), 'click analytics on Kafka', ({ brokers }) => {
  it('counts exactly N, every message delivered through a real broker', async () => {
    const { store } = await freshStore(['kafka']);
    const bus = await createKafkaEventBus({ brokers, clientId: 'url-shortener-test', logger: silent });
    cleanups.push(() => bus.close());
    const topic = `url.clicked.test-${Date.now()}`;
    const aggregator = await ClickAggregator.start(
      aggregatorOptions(bus, store, { topic, group: `agg-${Date.now()}` }),
    );
    cleanups.push(() => aggregator.stop());
    const clicks = new ClickPublisher({
      bus,
      topic,
      lingerMs: 5,
      batchMax: 50,
      bufferMax: 10_000,
      logger: silent,
    });
    for (const click of clicksFor('kafka', 400)) clicks.record(click);
    await clicks.close();
    await expectExactly(store, 'kafka', 400);
  });
});
