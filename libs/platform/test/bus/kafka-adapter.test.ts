import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createEventBus,
  createKafkaEventBus,
  DEAD_LETTER_HEADERS,
  type EventBus,
  MESSAGE_ID_HEADER,
} from '../../src/bus/index.js';
import { gate, Received, RecordingLogger, waitFor } from './helpers.js';

/**
 * The Kafka adapter's own logic (what it sends, how it maps messages, when it leaves an offset
 * uncommitted) against a stand-in for kafkajs that records calls. The contract suite in
 * kafka.test.ts proves the behaviour against a real broker when one is available.
 */

const fake = vi.hoisted(() => {
  type Listener = (event: unknown) => void;
  type EachMessage = (payload: unknown) => Promise<void>;

  class KafkaJSError extends Error {}

  class FakeConsumer {
    readonly events = { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash' };
    readonly listeners = new Map<string, Listener[]>();
    eachMessage: EachMessage | undefined;
    subscribed: unknown;
    disconnected = false;

    constructor(readonly config: { groupId: string }) {}

    on(event: string, listener: Listener) {
      this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
      return () =>
        this.listeners.set(
          event,
          (this.listeners.get(event) ?? []).filter((each) => each !== listener),
        );
    }

    emit(event: string): void {
      for (const listener of this.listeners.get(event) ?? []) listener({ payload: {} });
    }

    async connect() {}
    async subscribe(subscription: unknown) {
      this.subscribed = subscription;
    }
    async run(config: { eachMessage: EachMessage }) {
      this.eachMessage = config.eachMessage;
      if (!state.holdJoins) setImmediate(() => this.emit(this.events.GROUP_JOIN));
    }
    async disconnect() {
      this.disconnected = true;
    }

    /** What kafkajs would do for one fetched message. */
    deliver(message: { value: string | Buffer; offset?: string; headers?: Record<string, string | Buffer> }) {
      return this.eachMessage!({
        topic: 'orders',
        partition: 3,
        message: {
          key: Buffer.from('k'),
          value: Buffer.isBuffer(message.value) ? message.value : Buffer.from(message.value),
          offset: message.offset ?? '41',
          timestamp: '1700000000000',
          headers: message.headers ?? {},
        },
        heartbeat: async () => undefined,
        pause: () => () => undefined,
      });
    }
  }

  const state = {
    loads: 0,
    /** Set by a test that fires the group join itself; otherwise a consumer joins right after run(). */
    holdJoins: false,
    sent: [] as {
      topic: string;
      acks?: number;
      messages: { key: unknown; value: unknown; headers: Record<string, unknown> }[];
    }[],
    createdTopics: [] as string[],
    setOffsets: [] as unknown[],
    committed: [{ partition: 0, offset: '-1' }],
    consumers: [] as FakeConsumer[],
  };

  class Kafka {
    producer() {
      return {
        connect: async () => undefined,
        disconnect: async () => undefined,
        send: async (record: (typeof state.sent)[number]) => {
          state.sent.push(record);
          return [
            {
              topicName: record.topic,
              partition: 5,
              errorCode: 0,
              baseOffset: String(state.sent.length - 1),
            },
          ];
        },
      };
    }
    admin() {
      return {
        connect: async () => undefined,
        disconnect: async () => undefined,
        describeCluster: async () => ({ brokers: [], controller: 1, clusterId: 'fake' }),
        createTopics: async ({ topics }: { topics: { topic: string }[] }) => {
          state.createdTopics.push(...topics.map((topic) => topic.topic));
          return true;
        },
        fetchOffsets: async () => [{ topic: 'orders', partitions: state.committed }],
        fetchTopicOffsets: async () => [{ partition: 0, offset: '17', high: '17', low: '0' }],
        setOffsets: async (request: unknown) => {
          state.setOffsets.push(request);
        },
      };
    }
    consumer(config: { groupId: string }) {
      const consumer = new FakeConsumer(config);
      state.consumers.push(consumer);
      return consumer;
    }
  }

  const module = {
    Kafka,
    KafkaJSError,
    logLevel: { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 },
    Partitioners: { DefaultPartitioner: () => () => 0 },
  };
  return { state, module };
});

vi.mock('kafkajs', () => {
  fake.state.loads++;
  return { ...fake.module, default: fake.module };
});

const buses: EventBus[] = [];

async function openBus(): Promise<EventBus> {
  const bus = await createKafkaEventBus({
    brokers: ['fake:9092'],
    clientId: 'test',
    retry: { maxAttempts: 2, backoffBaseMs: 1, backoffMaxMs: 2 },
    logger: new RecordingLogger(),
  });
  buses.push(bus);
  return bus;
}

afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
  fake.state.sent.length = 0;
  fake.state.createdTopics.length = 0;
  fake.state.setOffsets.length = 0;
  fake.state.consumers.length = 0;
  fake.state.holdJoins = false;
});

describe('kafka adapter', () => {
  it('never loads kafkajs in the embedded mode', async () => {
    // The in-process bus is opened and used before any Kafka bus exists: the module loader for
    // kafkajs has not run.
    const bus = await createEventBus({ clientId: 'test' });
    await bus.publish('t', 'k', 1);
    await bus.close();
    expect(fake.state.loads).toBe(0);
  });

  it('publishes JSON with acks from all replicas and an x-message-id, creating each topic once', async () => {
    // Two publishes to one topic: one createTopics, two sends with acks -1, JSON values and an id header.
    const bus = await openBus();
    const first = await bus.publish('orders', 'k', { total: 3 });
    await bus.publish('orders', 'k', { total: 4 }, { [MESSAGE_ID_HEADER]: 'given' });
    expect(fake.state.createdTopics).toEqual(['orders']);
    expect(fake.state.sent.map((record) => record.acks)).toEqual([-1, -1]);
    expect(fake.state.sent[0]?.messages[0]).toMatchObject({ key: 'k', value: '{"total":3}' });
    expect(fake.state.sent[0]?.messages[0]?.headers[MESSAGE_ID_HEADER]).toBe(first.id);
    expect(fake.state.sent[1]?.messages[0]?.headers[MESSAGE_ID_HEADER]).toBe('given');
    expect(first).toMatchObject({ partition: 5, offset: '0' });
  });

  it('hands the handler the parsed value, the header id, and the offset and timestamp', async () => {
    // One fetched message with an x-message-id header: the handler sees it mapped field by field.
    const bus = await openBus();
    const received = new Received();
    await bus.subscribe('orders', 'billing', received.handle);
    const [consumer] = fake.state.consumers;
    expect(consumer?.config.groupId).toBe('billing');
    await consumer!.deliver({
      value: '{"total":3}',
      headers: { [MESSAGE_ID_HEADER]: Buffer.from('m-1'), trace: 'x' },
    });
    expect(received.messages[0]).toEqual({
      topic: 'orders',
      key: 'k',
      value: { total: 3 },
      headers: { [MESSAGE_ID_HEADER]: 'm-1', trace: 'x' },
      partition: 3,
      offset: '41',
      timestamp: 1_700_000_000_000,
      id: 'm-1',
      attempt: 1,
    });
  });

  it('retries, then copies the original bytes to <topic>.dead-letter and lets kafkajs commit', async () => {
    // maxAttempts 2 and a handler that always throws: two attempts, one send to the dead-letter
    // topic with the error headers, and eachMessage resolves so the offset is resolved.
    const bus = await openBus();
    let attempts = 0;
    await bus.subscribe('orders', 'billing', () => {
      attempts++;
      throw new Error('no such account');
    });
    await fake.state.consumers[0]!.deliver({ value: '{"total":3}', headers: { [MESSAGE_ID_HEADER]: 'm-2' } });
    expect(attempts).toBe(2);
    const deadLetter = fake.state.sent.find((record) => record.topic === 'orders.dead-letter');
    expect(fake.state.createdTopics).toContain('orders.dead-letter');
    expect(deadLetter?.messages[0]?.value).toEqual(Buffer.from('{"total":3}'));
    expect(deadLetter?.messages[0]?.headers).toMatchObject({
      [MESSAGE_ID_HEADER]: 'm-2',
      [DEAD_LETTER_HEADERS.error]: 'Error: no such account',
      [DEAD_LETTER_HEADERS.group]: 'billing',
      [DEAD_LETTER_HEADERS.attempts]: '2',
      [DEAD_LETTER_HEADERS.offset]: '41',
    });
  });

  it('dead-letters a value that is not JSON without calling the handler', async () => {
    // Retrying cannot fix bytes another producer wrote: straight to the dead letters.
    const bus = await openBus();
    let calls = 0;
    await bus.subscribe('orders', 'billing', () => {
      calls++;
    });
    await fake.state.consumers[0]!.deliver({ value: 'not json' });
    expect(calls).toBe(0);
    expect(fake.state.sent.map((record) => record.topic)).toEqual(['orders.dead-letter']);
  });

  it('fails eachMessage when the subscription closes mid-retry, so the offset stays uncommitted', async () => {
    // The handler fails and the next attempt is a minute away; close() makes eachMessage reject
    // with a KafkaJSError (kafkajs then does not resolve the offset) instead of dead-lettering.
    const bus = await openBus();
    let failures = 0;
    const subscription = await bus.subscribe(
      'orders',
      'billing',
      () => {
        failures++;
        throw new Error('later');
      },
      { retry: { maxAttempts: 5, backoffBaseMs: 60_000, backoffMaxMs: 60_000 } },
    );
    const delivery = fake.state.consumers[0]!.deliver({ value: '1' });
    await waitFor(() => failures === 1, 'the first failure', 2_000);
    await subscription.close();
    await expect(delivery).rejects.toBeInstanceOf(fake.module.KafkaJSError);
    expect(fake.state.sent).toEqual([]);
    expect(fake.state.consumers[0]?.disconnected).toBe(true);
  });

  it('commits the end offsets for a new group that starts with fromBeginning false', async () => {
    // A group without committed offsets gets the high watermarks committed before it joins; a
    // default (fromBeginning) subscription leaves offsets to kafkajs.
    const bus = await openBus();
    await bus.subscribe('orders', 'live', () => undefined, { fromBeginning: false });
    expect(fake.state.setOffsets).toEqual([
      { groupId: 'live', topic: 'orders', partitions: [{ partition: 0, offset: '17' }] },
    ]);
    await bus.subscribe('orders', 'history', () => undefined);
    expect(fake.state.setOffsets).toHaveLength(1);
  });

  it('resolves subscribe only once the consumer has joined its group', async () => {
    // The stand-in holds the join: subscribe() stays pending until the group-join event fires.
    fake.state.holdJoins = true;
    const bus = await openBus();
    let subscribed = false;
    const subscribing = bus
      .subscribe('orders', 'billing', () => undefined)
      .then(() => {
        subscribed = true;
      });
    await waitFor(() => fake.state.consumers[0]?.eachMessage !== undefined, 'the consumer to run', 2_000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(subscribed).toBe(false);
    const consumer = fake.state.consumers[0]!;
    consumer.emit(consumer.events.GROUP_JOIN);
    await subscribing;
    expect(subscribed).toBe(true);
  });

  it('waits on close for a running handler before disconnecting', async () => {
    // A handler held mid-message: close() resolves only after it is released.
    const bus = await openBus();
    const held = gate();
    const subscription = await bus.subscribe('orders', 'billing', () => held.promise);
    const delivery = fake.state.consumers[0]!.deliver({ value: '1' });
    let closed = false;
    const closing = subscription.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(closed).toBe(false);
    held.open();
    await Promise.all([closing, delivery]);
    expect(closed).toBe(true);
  });
});
