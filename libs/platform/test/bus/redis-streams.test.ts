import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import {
  deleteRedisPrefix,
  describeWith,
  freshRedisPrefix,
  privateRedis,
  redisBackend,
  waitFor as waitUntil,
} from '@sysdesign/testkit';
import { TSX_NODE_ARGUMENTS } from '@sysdesign/testkit/faults';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BusErrorCode,
  createEventBus,
  createRedisStreamsEventBus,
  type EventBus,
  type RedisStreamsBusOptions,
} from '../../src/bus/index.js';
import { offsetOfEntryId } from '../../src/bus/redis-streams-keys.js';
import { eventBusContract } from './contract.js';
import { EventCounts, Received, RecordingLogger, uniqueName, waitFor } from './helpers.js';

const WAIT_MS = 10_000;
const packageRoot = new URL('../..', import.meta.url).pathname;

describe('redis streams offsets', () => {
  it('turns entry ids into decimal offsets that grow with the id', () => {
    // An id is <ms>-<seq>, a 128-bit number: the offset is that number, so BigInt() parses it
    // and a later entry (higher ms, or same ms and higher seq) always has a larger offset.
    expect(offsetOfEntryId('0-5')).toBe('5');
    expect(offsetOfEntryId('1-0')).toBe((2n ** 64n).toString());
    const ids = [
      '1700000000000-0',
      '1700000000000-1',
      '1700000000000-18446744073709551615',
      '1700000000001-0',
    ];
    const offsets = ids.map((id) => BigInt(offsetOfEntryId(id)));
    for (let index = 1; index < offsets.length; index++)
      expect(offsets[index]! > offsets[index - 1]!).toBe(true);
  });
});

// Against the shared Redis (REDIS_URL, or a container when Docker answers); skipped visibly
// otherwise. Each test's buses work under a fresh key prefix, deleted after the test (afterEach
// hooks run in reverse: the contract closes its buses first).
describeWith(await redisBackend(), 'EventBus contract: redis streams', ({ url }) => {
  let keyPrefix = '';
  beforeEach(() => {
    keyPrefix = freshRedisPrefix('bus-contract');
  });
  afterEach(() => deleteRedisPrefix(url, keyPrefix));
  eventBusContract({
    open: (options) =>
      createRedisStreamsEventBus({
        url,
        clientId: 'platform-bus-contract',
        keyPrefix,
        heartbeatIntervalMs: 50,
        sessionTimeoutMs: 2_000,
        blockMs: 1_000,
        logger: new RecordingLogger(),
        ...options,
      }),
    waitMs: WAIT_MS,
    testTimeoutMs: 30_000,
  });
});

describeWith(await redisBackend(), 'redis streams bus', ({ url }) => {
  let keyPrefix = '';
  const opened: EventBus[] = [];
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });

  beforeEach(() => {
    keyPrefix = freshRedisPrefix('bus-redis');
  });

  /** Kills of the child members a test started. */
  const members: (() => Promise<void>)[] = [];

  afterEach(async () => {
    // Children first: a live one would write its heartbeats back under the deleted prefix.
    await Promise.all(members.splice(0).map((kill) => kill()));
    await Promise.all(opened.splice(0).map((bus) => bus.close()));
    await deleteRedisPrefix(url, keyPrefix);
  });

  afterAll(() => {
    redis.disconnect();
  });

  async function open(options: Partial<RedisStreamsBusOptions> = {}): Promise<EventBus> {
    const bus = await createRedisStreamsEventBus({
      url,
      clientId: 'redis-bus-test',
      keyPrefix,
      heartbeatIntervalMs: 50,
      sessionTimeoutMs: 1_000,
      blockMs: 1_000,
      retry: { backoffBaseMs: 1, backoffMaxMs: 4 },
      logger: new RecordingLogger(),
      ...options,
    });
    opened.push(bus);
    return bus;
  }

  /** Entries delivered to the group and not acknowledged, over the topic's 8 partitions. */
  async function pendingCount(topic: string, group: string): Promise<number> {
    let count = 0;
    for (let partition = 0; partition < 8; partition++) {
      const summary = (await redis.xpending(`${keyPrefix}${topic}:${partition}`, group)) as [
        number,
        ...unknown[],
      ];
      count += Number(summary[0]);
    }
    return count;
  }

  /** A group member in a child process (fixtures/redis-consumer.ts), killed after the test. */
  async function startMember(topic: string, group: string, env: Record<string, string> = {}) {
    const child: ChildProcess = spawn(
      process.execPath,
      [...TSX_NODE_ARGUMENTS, 'test/bus/fixtures/redis-consumer.ts'],
      {
        cwd: packageRoot,
        env: {
          ...process.env,
          REDIS_URL: url,
          BUS_KEY_PREFIX: keyPrefix,
          TOPIC: topic,
          GROUP: group,
          SESSION_TIMEOUT_MS: '1000',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const kill = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    };
    members.push(kill);
    const started: string[] = [];
    const handled: string[] = [];
    let ready = false;
    let errors = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      errors = (errors + chunk.toString()).slice(-4_000);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as { ready?: true; started?: string; handled?: string };
      if (event.ready) ready = true;
      if (event.started) started.push(event.started);
      if (event.handled) handled.push(event.handled);
    });
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`member exited: ${errors}`);
        return ready;
      },
      'the child member to join',
      30_000,
    );
    /** SIGSTOP: frozen, its connections open, like a GC pause or a stopped VM. */
    const freeze = () => child.kill('SIGSTOP');
    return { started, handled, kill, freeze };
  }

  it('shares a group between two processes, each message handled by exactly one of them', async () => {
    // A child process and this one subscribe in one group; 200 messages over 40 keys: together
    // they handle all 200, each handles some, and no message id reaches both.
    const topic = uniqueName('procs');
    const group = uniqueName('g');
    const bus = await open();
    const here = new Received();
    await bus.subscribe(topic, group, here.handle);
    const child = await startMember(topic, group);
    // The child's subscribe resolved once it held its partitions, which this member gave up.
    const published = new Set<string>();
    for (let index = 0; index < 200; index++)
      published.add((await bus.publish(topic, `k${index % 40}`, { index })).id);
    await waitFor(() => new Set([...here.ids(), ...child.handled]).size === 200, 'all 200 messages', WAIT_MS);
    expect(here.count).toBeGreaterThan(0);
    expect(child.handled.length).toBeGreaterThan(0);
    expect(here.count + child.handled.length).toBe(200);
    expect([...here.ids()].filter((id) => child.handled.includes(id))).toEqual([]);
    expect(new Set([...here.ids(), ...child.handled])).toEqual(published);
  }, 60_000);

  it('reclaims the pending messages of a killed member and hands them to another, in key order', async () => {
    // A child member takes messages and never finishes them; it is killed (SIGKILL, no cleanup).
    // After its session times out, a member here takes its partitions over: it gets every message,
    // the ones the dead member had started included, and each key's in publish order.
    const topic = uniqueName('reclaim');
    const group = uniqueName('g');
    const child = await startMember(topic, group, { HOLD: '1' });
    const publisher = await open();
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    const published: string[] = [];
    for (let sequence = 0; sequence < 5; sequence++)
      for (const key of keys) published.push((await publisher.publish(topic, key, { key, sequence })).id);
    await waitFor(() => child.started.length >= 2, 'the child to start some messages', WAIT_MS);
    await child.kill();
    const survivor = new Received<{ key: string; sequence: number }>();
    const bus = await open();
    await bus.subscribe(topic, group, survivor.handle);
    await waitFor(
      () => survivor.ids().size === published.length,
      'every message, reclaimed ones included',
      WAIT_MS,
    );
    expect(child.started.every((id) => survivor.ids().has(id))).toBe(true);
    for (const key of keys) {
      const sequences = survivor
        .values()
        .filter((value) => value.key === key)
        .map((value) => value.sequence);
      expect(sequences, key).toEqual([0, 1, 2, 3, 4]);
    }
  }, 60_000);

  it('rebalances on announcements, well within one heartbeat, when a member joins and when one leaves', async () => {
    // Heartbeats 3 s apart: a second member's subscribe() still resolves holding its share in
    // under half of that, and once it closes, the first member handles all 8 partitions again
    // before a heartbeat could have told it.
    const first = await open({ heartbeatIntervalMs: 3_000, sessionTimeoutMs: 30_000 });
    const second = await open({ heartbeatIntervalMs: 3_000, sessionTimeoutMs: 30_000 });
    const topic = uniqueName('announce');
    const group = uniqueName('g');
    const staying = new Received();
    await first.subscribe(topic, group, staying.handle);
    let started = performance.now();
    const leaving = await second.subscribe(topic, group, () => undefined);
    expect(performance.now() - started).toBeLessThan(1_500);
    started = performance.now();
    await leaving.close();
    for (let index = 0; index < 40; index++) await first.publish(topic, `k${index}`, { index });
    await waitFor(() => staying.count === 40, 'the staying member to get all 40', WAIT_MS);
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it("takes back the entry a frozen member's blocked read swallowed after the takeover", async () => {
    // A child member owns every partition and waits in XREADGROUP ... BLOCK; it is frozen
    // (SIGSTOP). After its session a member here takes the partitions over, but Redis still serves
    // the frozen member's registered read: the next entry lands in its pending list. The owner
    // notices an entry of another consumer idle for a session and reclaims it: all 10 arrive.
    const topic = uniqueName('frozen');
    const group = uniqueName('g');
    const child = await startMember(topic, group);
    const publisher = await open();
    await publisher.publish(topic, 'warm-up', { index: -1 });
    await waitFor(() => child.handled.length === 1, 'the child to handle a first message', WAIT_MS);
    // Frozen only once its acknowledgement is in, so nothing but the swallowed entry is pending.
    await waitUntil(async () => (await pendingCount(topic, group)) === 0, 'the first acknowledgement', {
      timeoutMs: WAIT_MS,
    });
    child.freeze();
    const survivor = new Received<{ index: number }>();
    const bus = await open();
    await bus.subscribe(topic, group, survivor.handle);
    for (let index = 0; index < 10; index++) await publisher.publish(topic, `k${index}`, { index });
    await waitFor(
      () => new Set(survivor.values().map((value) => value.index)).size === 10,
      'all 10, the swallowed one included',
      WAIT_MS,
    );
    expect(
      survivor
        .values()
        .map((value) => value.index)
        .sort((a, b) => a - b),
    ).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }, 60_000);

  it('reports what retention trimmed from a killed member before the takeover as skipped, and goes on', async () => {
    // A one-partition topic kept to about 10 entries: a child member takes the first message and
    // holds it, reading on; 300 more are published, trimming most of what it had read. Killed,
    // its successor reclaims the pending ids, reports the trimmed ones as skipped (not as
    // messages), and handles the last message published.
    const counts = new EventCounts();
    const publisher = await open({ partitions: 1, maxLenPerPartition: 10 });
    const topic = uniqueName('trimmed');
    const group = uniqueName('g');
    await publisher.publish(topic, 'k', { index: 0 });
    const child = await startMember(topic, group, { HOLD: '1' });
    await waitFor(() => child.started.length === 1, 'the child to take the first message', WAIT_MS);
    for (let index = 1; index <= 300; index++) await publisher.publish(topic, 'k', { index });
    await child.kill();
    const survivor = new Received<{ index: number }>();
    const bus = await open({ observer: counts.observe });
    await bus.subscribe(topic, group, survivor.handle);
    await waitFor(() => survivor.values().some((value) => value.index === 300), 'the last message', WAIT_MS);
    expect(counts.of('skipped')).toBeGreaterThan(0);
    const skipped = counts.events.reduce(
      (sum, event) => sum + (event.type === 'skipped' ? event.count : 0),
      0,
    );
    expect(skipped + survivor.count).toBeLessThanOrEqual(301);
    expect(survivor.count).toBeLessThan(301);
  }, 60_000);

  it('skips, counts and logs malformed entries and keeps consuming', async () => {
    // Entries another writer put on a partition stream: no value, a value that is not JSON,
    // headers that are not an object. Each is acknowledged and reported as skipped; the good
    // messages around them are handled in order.
    const logger = new RecordingLogger();
    const counts = new EventCounts();
    const bus = await open({ partitions: 1, logger, observer: counts.observe });
    const topic = uniqueName('malformed');
    const group = uniqueName('g');
    const received = new Received<{ index: number }>();
    await bus.subscribe(topic, group, received.handle);
    const stream = `${keyPrefix}${topic}:0`;
    await bus.publish(topic, 'k', { index: 0 });
    await redis.xadd(stream, '*', 'key', 'k');
    await redis.xadd(stream, '*', 'key', 'k', 'value', '{not json');
    await redis.xadd(stream, '*', 'key', 'k', 'value', '1', 'headers', '["x"]');
    await redis.xadd(stream, '*', 'garbage', 'x');
    await bus.publish(topic, 'k', { index: 1 });
    await waitFor(() => received.count === 2, 'the message after the bad entries', WAIT_MS);
    expect(received.values()).toEqual([{ index: 0 }, { index: 1 }]);
    expect(counts.of('skipped')).toBe(4);
    expect(logger.messages('warn').filter((message) => message.includes('malformed'))).toHaveLength(4);
    const pending = (await redis.xpending(stream, group)) as [number, ...unknown[]];
    expect(pending[0]).toBe(0);
  });

  it('keeps each partition stream near its retention bound (MAXLEN ~)', async () => {
    // 2,000 publishes to one partition with a bound of 50: Redis trims whole stream nodes (100
    // entries each by default), so the stream stays under bound + one node.
    const bus = await open({ partitions: 1, maxLenPerPartition: 50 });
    const topic = uniqueName('retention');
    await Promise.all(
      Array.from({ length: 2_000 }, (_, index) => bus.publish(topic, `k${index}`, { index })),
    );
    const length = await redis.xlen(`${keyPrefix}${topic}:0`);
    expect(length).toBeGreaterThanOrEqual(50);
    expect(length).toBeLessThanOrEqual(150);
  });

  it('keeps the partition count a topic was registered with', async () => {
    // A bus configured for 4 partitions publishes to a topic another bus registered with 2: its
    // messages land on partitions 0 and 1 only, so both buses hash keys alike.
    const first = await open({ partitions: 2 });
    const second = await open({ partitions: 4 });
    const topic = uniqueName('partitions');
    await first.publish(topic, 'k', 0);
    const receipts = await Promise.all(
      Array.from({ length: 50 }, (_, index) => second.publish(topic, `key-${index}`, index)),
    );
    expect(new Set(receipts.map((receipt) => receipt.partition))).toEqual(new Set([0, 1]));
  });

  it('is the bus createEventBus opens for BUS=redis', async () => {
    // The selection a service makes from its environment: BUS=redis and REDIS_URL.
    const bus = await createEventBus({
      clientId: 'selection',
      bus: 'redis',
      redisUrl: url,
      redisKeyPrefix: keyPrefix,
    });
    opened.push(bus);
    expect(bus.kind).toBe('redis-streams');
    await bus.ping();
  });
});

describe('redis streams bus on a Redis of its own', () => {
  // These restart and flush their server, so each starts a private one (never the shared Redis).
  const opened: EventBus[] = [];

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((bus) => bus.close()));
  });

  async function open(url: string, logger = new RecordingLogger()): Promise<EventBus> {
    const bus = await createRedisStreamsEventBus({
      url,
      clientId: 'redis-bus-outage',
      heartbeatIntervalMs: 50,
      sessionTimeoutMs: 1_000,
      blockMs: 500,
      logger,
    });
    opened.push(bus);
    return bus;
  }

  it('keeps consuming after its Redis restarts', async () => {
    // A subscription is live, Redis stops and starts again (append-only file on, so streams,
    // groups and positions survive): messages published afterwards are all handled, once each.
    const server = await privateRedis({ appendOnly: true });
    const bus = await open(server.url);
    const received = new Received<{ index: number }>();
    await bus.subscribe('orders', 'billing', received.handle);
    for (let index = 0; index < 5; index++) await bus.publish('orders', `k${index}`, { index });
    await waitFor(() => received.count === 5, 'the messages before the restart', WAIT_MS);
    await server.restart();
    await waitUntil(
      () =>
        bus.ping().then(
          () => true,
          () => false,
        ),
      'the bus to reconnect',
      { timeoutMs: WAIT_MS },
    );
    for (let index = 5; index < 10; index++) await bus.publish('orders', `k${index}`, { index });
    await waitFor(() => received.count >= 10, 'the messages after the restart', WAIT_MS);
    expect(
      received
        .values()
        .map((value) => value.index)
        .sort((a, b) => a - b),
    ).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }, 60_000);

  it('fails publish, subscribe and ping with BUS_ERR_UNAVAILABLE while its Redis is down', async () => {
    // Redis killed: each call rejects with the bus's typed error rather than an ioredis one, so
    // readiness and callers see one code.
    const server = await privateRedis();
    const bus = await open(server.url);
    await server.kill();
    const unavailable = { code: BusErrorCode.unavailable };
    await expect(bus.publish('orders', 'k', 1)).rejects.toMatchObject(unavailable);
    await expect(bus.subscribe('orders', 'billing', () => undefined)).rejects.toMatchObject(unavailable);
    await expect(bus.ping()).rejects.toMatchObject(unavailable);
  }, 60_000);

  it('recreates its consumer groups after Redis is flushed, and reads what was published since', async () => {
    // FLUSHALL removes the streams, the groups, the member set and the leases under a live
    // subscription: it logs the missing group, recreates it from the start of the new stream, and
    // handles the messages published after the flush.
    const server = await privateRedis();
    const logger = new RecordingLogger();
    const bus = await open(server.url, logger);
    const received = new Received<{ index: number }>();
    await bus.subscribe('orders', 'billing', received.handle, { fromBeginning: false });
    await bus.publish('orders', 'k', { index: 0 });
    await waitFor(() => received.count === 1, 'the message before the flush', WAIT_MS);
    const admin = new Redis(server.url);
    try {
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
    for (let index = 1; index <= 3; index++) await bus.publish('orders', 'k', { index });
    await waitFor(() => received.count === 4, 'the messages after the flush', WAIT_MS);
    expect(received.values().map((value) => value.index)).toEqual([0, 1, 2, 3]);
    expect(logger.messages('warn')).toContain('consumer group missing; recreating it');
  }, 60_000);
});
