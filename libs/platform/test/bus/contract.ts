import { afterEach, expect, it } from 'vitest';
import {
  BusErrorCode,
  type BusMessage,
  type BusObserver,
  DEAD_LETTER_HEADERS,
  deadLetterTopicOf,
  type EventBus,
  type RetryPolicy,
} from '../../src/bus/index.js';
import { EventCounts, gate, Received, uniqueName, waitFor } from './helpers.js';

/**
 * The promises every EventBus adapter keeps (see src/bus/port.ts), run against each adapter.
 * Every test uses its own topics and groups, so the suite also runs against a shared broker.
 */

export interface BusTarget {
  /** A fresh bus with the given observer and a retry policy of a few milliseconds. */
  open(options: {
    observer?: BusObserver;
    retry: Partial<RetryPolicy>;
    drainTimeoutMs?: number;
  }): Promise<EventBus>;
  /** How long a condition may take to hold (a broker needs seconds to rebalance). */
  waitMs: number;
  /** Per test. */
  testTimeoutMs: number;
}

const FAST_RETRY: Partial<RetryPolicy> = { backoffBaseMs: 1, backoffMaxMs: 4 };

interface Order {
  key: string;
  sequence: number;
}

export function eventBusContract(target: BusTarget): void {
  const opened: EventBus[] = [];
  const wait = (condition: () => boolean, what: string) => waitFor(condition, what, target.waitMs);
  const test = (name: string, body: () => Promise<void>) => it(name, body, target.testTimeoutMs);

  async function openBus(observer?: BusObserver, drainTimeoutMs?: number): Promise<EventBus> {
    const bus = await target.open({
      retry: FAST_RETRY,
      ...(observer === undefined ? {} : { observer }),
      ...(drainTimeoutMs === undefined ? {} : { drainTimeoutMs }),
    });
    opened.push(bus);
    return bus;
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((bus) => bus.close()));
  });

  test('keeps each key in publish order while 20 keys publish concurrently', async () => {
    // 20 publishers, one per key, each awaiting its own publishes in turn, all at once; a handler
    // that yields mid-message. Each key must arrive as 0..24 exactly.
    const bus = await openBus();
    const topic = uniqueName('order');
    const seen = new Map<string, number[]>();
    await bus.subscribe<Order>(topic, uniqueName('g'), async (message) => {
      await new Promise((resolve) => setImmediate(resolve));
      const list = seen.get(message.value.key) ?? [];
      list.push(message.value.sequence);
      seen.set(message.value.key, list);
    });
    const keys = Array.from({ length: 20 }, (_, index) => `key-${index}`);
    await Promise.all(
      keys.map(async (key) => {
        for (let sequence = 0; sequence < 25; sequence++) await bus.publish(topic, key, { key, sequence });
      }),
    );
    await wait(() => [...seen.values()].reduce((sum, list) => sum + list.length, 0) >= 500, '500 messages');
    const expected = Array.from({ length: 25 }, (_, index) => index);
    for (const key of keys) expect(seen.get(key), key).toEqual(expected);
  });

  test('delivers every message to every group', async () => {
    // Three groups subscribe to one topic; each must receive all 60 message ids.
    const bus = await openBus();
    const topic = uniqueName('fanout');
    const groups = [new Received(), new Received(), new Received()];
    for (const received of groups) await bus.subscribe(topic, uniqueName('g'), received.handle);
    const published = new Set<string>();
    for (let index = 0; index < 60; index++)
      published.add((await bus.publish(topic, `k${index % 7}`, { index })).id);
    await wait(
      () => groups.every((received) => received.ids().size === 60),
      'every group to see 60 messages',
    );
    for (const received of groups) expect(received.ids()).toEqual(published);
  });

  test('splits a group between two subscriptions without handling any message twice', async () => {
    // Two subscriptions of one group, then 200 messages over 40 keys: together they handle all
    // 200, each handles some, and no id reaches both.
    const bus = await openBus();
    const topic = uniqueName('split');
    const group = uniqueName('g');
    const first = new Received();
    const second = new Received();
    await bus.subscribe(topic, group, first.handle);
    await bus.subscribe(topic, group, second.handle);
    for (let index = 0; index < 200; index++) await bus.publish(topic, `k${index % 40}`, { index });
    await wait(() => new Set([...first.ids(), ...second.ids()]).size === 200, 'all 200 messages');
    expect(first.count).toBeGreaterThan(0);
    expect(second.count).toBeGreaterThan(0);
    const both = [...first.ids()].filter((id) => second.ids().has(id));
    expect(both).toEqual([]);
    expect(first.count + second.count).toBe(200);
  });

  test("hands a closed subscription's partitions to the rest of its group", async () => {
    // Two subscriptions share a group; one closes; the 50 messages published afterwards, over
    // every partition's worth of keys, all reach the one that stayed.
    const bus = await openBus();
    const topic = uniqueName('rebalance');
    const group = uniqueName('g');
    const staying = new Received();
    const leaving = new Received();
    await bus.subscribe(topic, group, staying.handle);
    const subscription = await bus.subscribe(topic, group, leaving.handle);
    await subscription.close();
    for (let index = 0; index < 50; index++) await bus.publish(topic, `k${index}`, { index });
    await wait(() => staying.count >= 50, 'the remaining subscription to get all 50');
    expect(leaving.count).toBe(0);
    expect(staying.ids().size).toBe(50);
  });

  test('redelivers a message whose handler threw, with the same id, before the next message of its key', async () => {
    // The handler throws on the first two deliveries of sequence 1; the key must then read
    // 0, 1, 1, 1, 2 with one id for the three deliveries, attempts 1..3, and two retries reported.
    const bus = await openBus();
    const topic = uniqueName('retry');
    const counts = new EventCounts();
    const seen: BusMessage<Order>[] = [];
    await bus.subscribe<Order>(
      topic,
      uniqueName('g'),
      (message) => {
        seen.push(message);
        if (message.value.sequence === 1 && message.attempt < 3)
          throw new Error(`flaky attempt ${message.attempt}`);
      },
      { observer: counts.observe },
    );
    for (let sequence = 0; sequence < 3; sequence++) await bus.publish(topic, 'k', { key: 'k', sequence });
    await wait(() => seen.some((message) => message.value.sequence === 2), 'the message after the flaky one');
    expect(seen.map((message) => message.value.sequence)).toEqual([0, 1, 1, 1, 2]);
    const retried = seen.filter((message) => message.value.sequence === 1);
    expect(new Set(retried.map((message) => message.id)).size).toBe(1);
    expect(retried.map((message) => message.attempt)).toEqual([1, 2, 3]);
    expect(counts.of('retried')).toBe(2);
    expect(counts.of('dead-lettered')).toBe(0);
  });

  test('dead-letters a message after maxAttempts failures, with the error in a header, and moves on', async () => {
    // A handler that always throws on "poison", maxAttempts 3: poison is tried 3 times, copied to
    // <topic>.dead-letter with its id and the error, counted, and the next message is handled.
    const bus = await openBus();
    const topic = uniqueName('poison');
    const group = uniqueName('g');
    const counts = new EventCounts();
    const attempts: number[] = [];
    const handled: string[] = [];
    await bus.subscribe<{ name: string }>(
      topic,
      group,
      (message) => {
        if (message.value.name === 'poison') {
          attempts.push(message.attempt);
          throw new Error('boom: cannot digest poison');
        }
        handled.push(message.value.name);
      },
      { retry: { maxAttempts: 3 }, observer: counts.observe },
    );
    const deadLetters = new Received();
    await bus.subscribe(deadLetterTopicOf(topic), uniqueName('dl'), deadLetters.handle);
    const poison = await bus.publish(topic, 'k', { name: 'poison' });
    await bus.publish(topic, 'k', { name: 'after' });
    await wait(
      () => handled.includes('after') && deadLetters.count === 1,
      'the dead letter and the next message',
    );
    expect(attempts).toEqual([1, 2, 3]);
    const [deadLetter] = deadLetters.messages;
    expect(deadLetter?.id).toBe(poison.id);
    expect(deadLetter?.value).toEqual({ name: 'poison' });
    expect(deadLetter?.key).toBe('k');
    expect(deadLetter?.headers[DEAD_LETTER_HEADERS.error]).toContain('boom: cannot digest poison');
    expect(deadLetter?.headers[DEAD_LETTER_HEADERS.topic]).toBe(topic);
    expect(deadLetter?.headers[DEAD_LETTER_HEADERS.group]).toBe(group);
    expect(deadLetter?.headers[DEAD_LETTER_HEADERS.attempts]).toBe('3');
    expect(counts.of('dead-lettered')).toBe(1);
    expect(counts.of('retried')).toBe(2);
  });

  test('stops delivering to a subscription once it is closed', async () => {
    // After close(), 10 more messages are published; a second group that reads all 11 is the
    // barrier proving delivery happened, and the closed subscription got none of the 10.
    const bus = await openBus();
    const topic = uniqueName('close');
    const closing = new Received();
    const subscription = await bus.subscribe(topic, uniqueName('g'), closing.handle);
    await bus.publish(topic, 'k0', { index: 0 });
    await wait(() => closing.count === 1, 'the first message');
    await subscription.close();
    for (let index = 1; index <= 10; index++) await bus.publish(topic, `k${index}`, { index });
    const control = new Received();
    await bus.subscribe(topic, uniqueName('control'), control.handle);
    await wait(() => control.count >= 11, 'the control group to read all 11');
    expect(closing.count).toBe(1);
  });

  test('waits on close for a running handler and commits the message it finished', async () => {
    // The handler holds the first message until released; close() must not resolve before the
    // handler does, and a new subscription of the group then gets only the next message.
    const bus = await openBus();
    const topic = uniqueName('drain');
    const group = uniqueName('g');
    const held = gate();
    let started = false;
    let finished = false;
    const subscription = await bus.subscribe(topic, group, async () => {
      started = true;
      await held.promise;
      finished = true;
    });
    await bus.publish(topic, 'k', { index: 0 });
    await wait(() => started, 'the handler to start');
    let closed = false;
    const closing = subscription.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed).toBe(false);
    held.open();
    await closing;
    expect(finished).toBe(true);
    const again = new Received<{ index: number }>();
    await bus.subscribe(topic, group, again.handle);
    await bus.publish(topic, 'k', { index: 1 });
    await wait(() => again.count >= 1, 'the next message');
    expect(again.values()).toEqual([{ index: 1 }]);
  });

  test('lets a running handler publish its output while the bus closes', async () => {
    // bus.close() starts while a handler is held; released, the handler publishes a follow-up
    // event, which must succeed: a graceful shutdown does not fail the work it waits for.
    const bus = await openBus();
    const topic = uniqueName('drain-publish');
    const held = gate();
    let started = false;
    let outcome = 'pending';
    await bus.subscribe(topic, uniqueName('g'), async () => {
      started = true;
      await held.promise;
      try {
        await bus.publish(`${topic}.out`, 'k', { followUp: true });
        outcome = 'published';
      } catch (error) {
        outcome = `failed: ${(error as Error).message}`;
      }
    });
    await bus.publish(topic, 'k', { index: 0 });
    await wait(() => started, 'the handler to start');
    const closing = bus.close();
    held.open();
    await closing;
    expect(outcome).toBe('published');
  });

  test('abandons a handler that outlives the drain timeout and redelivers its message', async () => {
    // A handler that never finishes, a 50 ms drain timeout: close() returns anyway, the message
    // stays uncommitted, and the group's next subscription gets it again with the same id.
    const bus = await openBus(undefined, 50);
    const topic = uniqueName('abandon');
    const group = uniqueName('g');
    const stuck = new Received();
    const subscription = await bus.subscribe(topic, group, async (message) => {
      stuck.handle(message);
      await new Promise(() => undefined);
    });
    const receipt = await bus.publish(topic, 'k', { index: 0 });
    await wait(() => stuck.count === 1, 'the handler to start');
    await subscription.close();
    const again = new Received();
    await bus.subscribe(topic, group, again.handle);
    await wait(() => again.count >= 1, 'the redelivery');
    expect(again.messages[0]?.id).toBe(receipt.id);
  });

  test('stops retrying on close and leaves the failing message for redelivery, not the dead letters', async () => {
    // The handler fails and the next attempt is a minute away; close() must not wait for it, nothing
    // is dead-lettered, and the group's next subscription gets the message again.
    const counts = new EventCounts();
    const bus = await openBus(counts.observe);
    const topic = uniqueName('retry-close');
    const group = uniqueName('g');
    let failures = 0;
    const subscription = await bus.subscribe(
      topic,
      group,
      () => {
        failures++;
        throw new Error('not yet');
      },
      { retry: { maxAttempts: 5, backoffBaseMs: 60_000, backoffMaxMs: 60_000 } },
    );
    const receipt = await bus.publish(topic, 'k', { index: 0 });
    await wait(() => failures === 1, 'the first failure');
    const started = Date.now();
    await subscription.close();
    expect(Date.now() - started).toBeLessThan(target.waitMs);
    const again = new Received();
    await bus.subscribe(topic, group, again.handle);
    await wait(() => again.count >= 1, 'the redelivery');
    expect(again.messages[0]?.id).toBe(receipt.id);
    expect(failures).toBe(1);
    expect(counts.of('dead-lettered')).toBe(0);
  });

  test('resumes a group from its committed offset when it subscribes again', async () => {
    // 10 messages handled, subscription closed, 10 more published, the group subscribes again:
    // it gets exactly the 10 new ones (at-least-once, and nothing handled is redelivered).
    const bus = await openBus();
    const topic = uniqueName('resume');
    const group = uniqueName('g');
    const before = new Received<{ index: number }>();
    const first = await bus.subscribe(topic, group, before.handle);
    for (let index = 0; index < 10; index++) await bus.publish(topic, `k${index % 3}`, { index });
    await wait(() => before.count >= 10, 'the first 10');
    await first.close();
    for (let index = 10; index < 20; index++) await bus.publish(topic, `k${index % 3}`, { index });
    const after = new Received<{ index: number }>();
    await bus.subscribe(topic, group, after.handle);
    await wait(() => after.count >= 10, 'the next 10');
    const indexes = after.values().map((value) => value.index);
    expect(indexes.sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  test('starts a new group at the earliest message by default and at the end with fromBeginning false', async () => {
    // 5 messages, then two new groups, then 5 more: the default group reads all 10, the
    // fromBeginning:false group only the 5 published after it subscribed.
    const bus = await openBus();
    const topic = uniqueName('start');
    for (let index = 0; index < 5; index++) await bus.publish(topic, `k${index}`, { index });
    const early = new Received<{ index: number }>();
    const late = new Received<{ index: number }>();
    await bus.subscribe(topic, uniqueName('early'), early.handle);
    await bus.subscribe(topic, uniqueName('late'), late.handle, { fromBeginning: false });
    for (let index = 5; index < 10; index++) await bus.publish(topic, `k${index}`, { index });
    await wait(() => early.count >= 10 && late.count >= 5, 'both groups');
    expect(
      late
        .values()
        .map((value) => value.index)
        .sort((a, b) => a - b),
    ).toEqual([5, 6, 7, 8, 9]);
    expect(early.ids().size).toBe(10);
  });

  test('reports publishes and consumption to its observer', async () => {
    // A bus-level observer sees one "published" and one "consumed" per message.
    const counts = new EventCounts();
    const bus = await openBus(counts.observe);
    const topic = uniqueName('observe');
    const received = new Received();
    await bus.subscribe(topic, uniqueName('g'), received.handle);
    for (let index = 0; index < 5; index++) await bus.publish(topic, `k${index}`, { index });
    await wait(() => counts.of('consumed') >= 5, '5 consumed events');
    expect(counts.of('published')).toBe(5);
  });

  test('keeps a caller-given x-message-id as the message id', async () => {
    // A publisher that passes its own id (say, an idempotency key) gets it back on delivery.
    const bus = await openBus();
    const topic = uniqueName('id');
    const received = new Received();
    await bus.subscribe(topic, uniqueName('g'), received.handle);
    const receipt = await bus.publish(topic, 'k', { a: 1 }, { 'x-message-id': 'order-42', trace: 'abc' });
    await wait(() => received.count === 1, 'the message');
    expect(receipt.id).toBe('order-42');
    expect(received.messages[0]?.id).toBe('order-42');
    expect(received.messages[0]?.headers.trace).toBe('abc');
  });

  test('answers ping, rejects what JSON cannot carry, and rejects use after close', async () => {
    // Programmer-facing errors are typed: invalid value, bad name, and a closed bus.
    const bus = await openBus();
    await bus.ping();
    const topic = uniqueName('errors');
    await expect(bus.publish(topic, 'k', undefined)).rejects.toMatchObject({
      code: BusErrorCode.invalidValue,
    });
    await expect(bus.publish(topic, 'k', { big: 1n })).rejects.toMatchObject({
      code: BusErrorCode.invalidValue,
    });
    await expect(bus.publish('bad/topic', 'k', 1)).rejects.toMatchObject({ code: BusErrorCode.invalidName });
    await bus.close();
    await expect(bus.publish(topic, 'k', 1)).rejects.toMatchObject({ code: BusErrorCode.closed });
    await expect(bus.subscribe(topic, 'g', () => undefined)).rejects.toMatchObject({
      code: BusErrorCode.closed,
    });
  });
}
