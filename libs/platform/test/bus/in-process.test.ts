import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDirSync } from '@sysdesign/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BusErrorCode,
  type BusMessage,
  type EventBus,
  type InProcessBusOptions,
  InProcessEventBus,
} from '../../src/bus/index.js';
import { eventBusContract } from './contract.js';
import { EventCounts, gate, Received, RecordingLogger, uniqueName, waitFor } from './helpers.js';

const WAIT_MS = 5_000;
const freshDir = () => tempDirSync('bus-test-');

describe('EventBus contract: in-process, memory only', () => {
  eventBusContract({
    open: (options) => InProcessEventBus.open({ ...options, logger: new RecordingLogger() }),
    waitMs: WAIT_MS,
    testTimeoutMs: 10_000,
  });
});

describe('EventBus contract: in-process, durable', () => {
  eventBusContract({
    open: (options) => InProcessEventBus.open({ ...options, dir: freshDir(), logger: new RecordingLogger() }),
    waitMs: WAIT_MS,
    testTimeoutMs: 10_000,
  });
});

/** Buses a test opened; closed after it unless the test dropped them to simulate a crash. */
const opened: EventBus[] = [];
const crashed = new Set<EventBus>();
/** What the buses of the current test logged. */
let logs = new RecordingLogger();

beforeEach(() => {
  logs = new RecordingLogger();
});

async function open(options: InProcessBusOptions): Promise<InProcessEventBus> {
  const bus = await InProcessEventBus.open({
    retry: { backoffBaseMs: 1, backoffMaxMs: 4 },
    logger: logs,
    ...options,
  });
  opened.push(bus);
  return bus;
}

/**
 * A crash: `crash()` stops the instance as kill -9 would (nothing more reaches its files) and
 * leaves its directory lock behind, so this process may open the directory again.
 */
function crash(bus: InProcessEventBus): void {
  crashed.add(bus);
  bus.crash();
}

afterEach(async () => {
  await Promise.all(
    opened
      .splice(0)
      .filter((bus) => !crashed.has(bus))
      .map((bus) => bus.close()),
  );
});

function segmentFiles(dir: string, topic: string, partition: number): string[] {
  const partitionDir = join(dir, 'topics', topic, String(partition));
  return readdirSync(partitionDir)
    .filter((name) => name.endsWith('.log'))
    .sort()
    .map((name) => join(partitionDir, name));
}

describe('in-process bus, durable across a crash', () => {
  it('commits nothing once crashed: a message whose handler finishes afterwards is redelivered', async () => {
    // The handler is still running when the instance crashes; its late success must not commit.
    const dir = freshDir();
    const topic = uniqueName('crash-commit');
    const group = uniqueName('g');
    const before = await open({ dir, partitions: 1 });
    const held = gate();
    let started = false;
    await before.subscribe(topic, group, async () => {
      started = true;
      await held.promise;
    });
    const { id } = await before.publish(topic, 'k', { index: 0 });
    await waitFor(() => started, 'the handler to start', WAIT_MS);
    crash(before);
    held.open();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = await open({ dir, partitions: 1 });
    const again = new Received();
    await after.subscribe(topic, group, again.handle);
    await waitFor(() => again.count === 1, 'the redelivery', WAIT_MS);
    expect(again.messages[0]?.id).toBe(id);
  });

  it('keeps acknowledged messages and committed offsets when the process dies mid-message', async () => {
    // 20 messages on one key; the handler commits 10, then hangs on the 11th when the instance is
    // dropped. Reopened: the group resumes at the 11th (same id), and a new group reads all 20.
    const dir = freshDir();
    const topic = uniqueName('crash');
    const group = uniqueName('g');
    const before = await open({ dir });
    const handled: BusMessage<{ index: number }>[] = [];
    await before.subscribe<{ index: number }>(topic, group, async (message) => {
      if (message.value.index === 10) await new Promise(() => undefined);
      handled.push(message);
    });
    const ids: string[] = [];
    for (let index = 0; index < 20; index++) ids.push((await before.publish(topic, 'k', { index })).id);
    await waitFor(() => handled.length === 10, '10 handled', WAIT_MS);
    crash(before);

    const after = await open({ dir });
    const resumed = new Received<{ index: number }>();
    await after.subscribe(topic, group, resumed.handle);
    const fresh = new Received();
    await after.subscribe(topic, uniqueName('fresh'), fresh.handle);
    await waitFor(() => resumed.count >= 10 && fresh.count >= 20, 'both groups after the restart', WAIT_MS);
    expect(resumed.values().map((value) => value.index)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(resumed.messages[0]?.id).toBe(ids[10]);
    expect(fresh.messages.map((message) => message.id)).toEqual(ids);
  });

  it('ignores a torn last record and appends cleanly after it', async () => {
    // Three messages, then the file is cut 5 bytes short (a write a crash interrupted). Reopened:
    // two messages remain, the next publish takes offset 2, and a third open reads all three in order.
    const dir = freshDir();
    const topic = uniqueName('torn');
    const first = await open({ dir, partitions: 1 });
    for (let index = 0; index < 3; index++) await first.publish(topic, 'k', { index });
    crash(first);
    const [segment] = segmentFiles(dir, topic, 0);
    truncateSync(segment!, readFileSync(segment!).length - 5);

    const second = await open({ dir, partitions: 1 });
    expect(logs.messages('warn')).toContain('ignoring a torn or corrupt tail (a write cut short by a crash)');
    const receipt = await second.publish(topic, 'k', { index: 'after' });
    expect(receipt.offset).toBe('2');
    crash(second);

    const third = await open({ dir, partitions: 1 });
    const received = new Received<{ index: number | string }>();
    await third.subscribe(topic, uniqueName('g'), received.handle);
    await waitFor(() => received.count >= 3, 'three messages', WAIT_MS);
    expect(received.values()).toEqual([{ index: 0 }, { index: 1 }, { index: 'after' }]);
  });

  it('ignores a last record whose checksum does not match', async () => {
    // One byte of the last record's JSON is changed on disk (as an OS crash without fsync can
    // leave it): the record is dropped, the ones before it are kept.
    const dir = freshDir();
    const topic = uniqueName('crc');
    const first = await open({ dir, partitions: 1 });
    for (let index = 0; index < 3; index++) await first.publish(topic, 'k', { index });
    crash(first);
    const [segment] = segmentFiles(dir, topic, 0);
    const bytes = readFileSync(segment!);
    const lastLineStart = bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
    bytes[lastLineStart + 20] = bytes[lastLineStart + 20]! ^ 0x01;
    writeFileSync(segment!, bytes);

    const second = await open({ dir, partitions: 1 });
    const received = new Received<{ index: number }>();
    await second.subscribe(topic, uniqueName('g'), received.handle);
    await waitFor(() => received.count >= 2, 'two messages', WAIT_MS);
    await second.publish(topic, 'k', { index: 9 });
    await waitFor(() => received.count >= 3, 'the new message', WAIT_MS);
    expect(received.values()).toEqual([{ index: 0 }, { index: 1 }, { index: 9 }]);
  });

  it('resumes after a clean close, keeping the partition count the topic was created with', async () => {
    // Created with 4 partitions, reopened with 8 configured: keys land where they did, and the
    // group continues after its committed offset.
    const dir = freshDir();
    const topic = uniqueName('reopen');
    const group = uniqueName('g');
    const first = await open({ dir, partitions: 4 });
    const before = new Received();
    await first.subscribe(topic, group, before.handle);
    const placed = await first.publish(topic, 'some-key', { index: 0 });
    await waitFor(() => before.count === 1, 'the first message', WAIT_MS);
    await first.close();

    const second = await open({ dir, partitions: 8 });
    const again = await second.publish(topic, 'some-key', { index: 1 });
    expect(again.partition).toBe(placed.partition);
    const after = new Received<{ index: number }>();
    await second.subscribe(topic, group, after.handle);
    await waitFor(() => after.count >= 1, 'the second message', WAIT_MS);
    expect(after.values()).toEqual([{ index: 1 }]);
  });

  it('survives a crash with fsync always', async () => {
    // The fsync path writes the same files: a message published before the crash is read after it.
    const dir = freshDir();
    const topic = uniqueName('fsync');
    const first = await open({ dir, fsync: 'always' });
    const receipt = await first.publish(topic, 'k', { durable: true });
    crash(first);
    const second = await open({ dir, fsync: 'always' });
    const received = new Received();
    await second.subscribe(topic, uniqueName('g'), received.handle);
    await waitFor(() => received.count === 1, 'the message', WAIT_MS);
    expect(received.messages[0]?.id).toBe(receipt.id);
  });

  it('refuses a directory another live process holds, and takes over a stale lock', async () => {
    // A LOCK naming the parent process (alive) blocks the open; one naming a dead pid does not.
    const dir = freshDir();
    writeFileSync(join(dir, 'LOCK'), `${process.ppid} other`);
    await expect(InProcessEventBus.open({ dir })).rejects.toMatchObject({ code: BusErrorCode.dirLocked });
    writeFileSync(join(dir, 'LOCK'), '2147483646 gone');
    const bus = await open({ dir });
    await bus.ping();
  });
});

describe.each([
  { mode: 'memory', dirOf: () => undefined },
  { mode: 'durable', dirOf: freshDir },
])('in-process bus retention ($mode)', ({ dirOf }) => {
  it('deletes old segments once every known group has read past them', async () => {
    // Tiny segments, one partition, one group reading everything: a group created afterwards from
    // the beginning starts past offset 0, because the read segments are gone.
    const dir = dirOf();
    const topic = uniqueName('trim');
    const bus = await open({ dir, partitions: 1, segmentBytes: 200 });
    const reader = new Received();
    await bus.subscribe(topic, uniqueName('g'), reader.handle);
    for (let index = 0; index < 30; index++) await bus.publish(topic, 'k', { index });
    await waitFor(() => reader.count === 30, 'all 30 read', WAIT_MS);
    await bus.publish(topic, 'k', { index: 30 });
    await waitFor(() => reader.count === 31, 'the last one read', WAIT_MS);
    const late = new Received<{ index: number }>();
    await bus.subscribe(topic, uniqueName('late'), late.handle);
    await waitFor(
      () => late.count > 0 && late.values().at(-1)?.index === 30,
      'the late group to catch up',
      WAIT_MS,
    );
    expect(late.values()[0]?.index).toBeGreaterThan(20);
    if (dir) expect(segmentFiles(dir, topic, 0).length).toBeLessThanOrEqual(2);
  });

  it('deletes unread segments beyond retention; the lagging group skips ahead and reports it', async () => {
    // The group's handler holds message 0 while 60 more arrive, far over the 800-byte retention;
    // released, it continues at the oldest retained offset and a "skipped" event counts the loss.
    const dir = dirOf();
    const topic = uniqueName('retain');
    const counts = new EventCounts();
    const bus = await open({
      dir,
      partitions: 1,
      segmentBytes: 200,
      retentionBytes: 800,
      observer: counts.observe,
    });
    const held = gate();
    const seen: number[] = [];
    await bus.subscribe<{ index: number }>(topic, uniqueName('g'), async (message) => {
      if (message.value.index === 0) await held.promise;
      seen.push(message.value.index);
    });
    for (let index = 0; index < 60; index++) await bus.publish(topic, 'k', { index });
    if (dir) expect(segmentFiles(dir, topic, 0).length).toBeLessThanOrEqual(8);
    held.open();
    await waitFor(() => seen.at(-1) === 59, 'the group to reach the end', WAIT_MS);
    expect(seen[0]).toBe(0);
    expect(seen[1]).toBeGreaterThan(1);
    expect(counts.of('skipped')).toBe(1);
    expect(logs.messages('warn')).toContain(
      'retention deleted messages this group had not read; skipping ahead',
    );
  });
});
