import { describe, expect, it } from 'vitest';
import {
  isStorageError,
  keyAfter,
  MAX_KEY_BYTES,
  StorageEngine,
  type StorageErrorCode,
} from '../../src/storage/index.js';
import { bytes, dump, manualClock, pad, testOptions, text, useTempDirs } from './helpers.js';

const temp = useTempDirs();

async function openEngine(overrides: Parameters<typeof testOptions>[1] = {}): Promise<StorageEngine> {
  return temp.track(await StorageEngine.open(testOptions(await temp.dir(), overrides)));
}

async function expectCode(promise: Promise<unknown>, code: StorageErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isStorageError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
}

describe('round trips', () => {
  it('returns the bytes written, with sequence numbers increasing in write order', async () => {
    // Values of several shapes (empty, binary, multi-byte key) come back byte for byte.
    const engine = await openEngine();
    const binary = new Uint8Array([0, 255, 1, 254, 0]);
    const first = await engine.put('a', bytes('alpha'));
    const second = await engine.put('empty', new Uint8Array(0));
    const third = await engine.put('ключ-🔑', binary);
    expect(first.seq < second.seq && second.seq < third.seq).toBe(true);
    expect(text(await engine.getValue('a'))).toBe('alpha');
    expect((await engine.getValue('empty'))?.byteLength).toBe(0);
    expect(Buffer.from((await engine.getValue('ключ-🔑'))!).equals(Buffer.from(binary))).toBe(true);
    expect(await engine.get('never-written')).toBeUndefined();
  });

  it('copies values in and out, so callers cannot change stored data through their buffers', async () => {
    // Mutates the buffer after put and the buffer returned by get; the stored value stays the same.
    const engine = await openEngine();
    const value = bytes('original');
    await engine.put('k', value);
    value.fill(0);
    const read = (await engine.getValue('k'))!;
    read.fill(0);
    expect(text(await engine.getValue('k'))).toBe('original');
  });

  it('keeps the newest version across memtable and several SSTables', async () => {
    // Version 1 flushed to a table, version 2 to another, version 3 in the memtable, then a delete.
    const engine = await openEngine();
    await engine.put('k', bytes('v1'));
    await engine.put('other', bytes('o1'));
    await engine.flush();
    await engine.put('k', bytes('v2'));
    await engine.flush();
    expect(engine.stats().tables).toHaveLength(2);
    expect(text(await engine.getValue('k'))).toBe('v2');
    await engine.put('k', bytes('v3'));
    expect(text(await engine.getValue('k'))).toBe('v3');
    await engine.flush();
    expect(text(await engine.getValue('k'))).toBe('v3');
    expect(text(await engine.getValue('other'))).toBe('o1');

    const deleted = await engine.delete('k');
    const tombstone = await engine.get('k');
    expect(tombstone).toMatchObject({
      kind: 'tombstone',
      seq: deleted.seq,
      timestampMs: deleted.timestampMs,
    });
    expect(await engine.getValue('k')).toBeUndefined();
    await engine.flush();
    expect((await engine.get('k'))?.kind).toBe('tombstone');
    await engine.put('k', bytes('v4'));
    await engine.flush();
    expect(text(await engine.getValue('k'))).toBe('v4');
  });

  it('keeps tombstone metadata and caller-supplied timestamps through flush and reopen', async () => {
    // A delete carrying a vector clock and the coordinator's time; both must survive the disk round trip.
    const dir = await temp.dir();
    const engine = temp.track(await StorageEngine.open(testOptions(dir)));
    await engine.put('k', bytes('v'), { timestampMs: 5 });
    await engine.delete('k', { value: bytes('{"n1":3}'), timestampMs: 1_234 });
    await engine.flush();
    await engine.close();
    const reopened = temp.track(await StorageEngine.open(testOptions(dir)));
    const entry = await reopened.get('k');
    expect(entry).toMatchObject({ kind: 'tombstone', timestampMs: 1_234 });
    expect(text(entry?.value)).toBe('{"n1":3}');
  });
});

describe('ordered scans', () => {
  it('lists the current version of every key in order, tombstones included, across all layers', async () => {
    // Keys spread over two tables and the memtable, with overwrites and deletes; pages of 7 must add up to the model.
    const engine = await openEngine();
    const model = new Map<string, [string, 'value' | 'tombstone', string]>();
    for (let index = 0; index < 60; index++) {
      await engine.put(`k${pad(index, 3)}`, bytes(`a${index}`));
      model.set(`k${pad(index, 3)}`, [`k${pad(index, 3)}`, 'value', `a${index}`]);
    }
    await engine.flush();
    for (let index = 0; index < 60; index += 3) {
      await engine.put(`k${pad(index, 3)}`, bytes(`b${index}`));
      model.set(`k${pad(index, 3)}`, [`k${pad(index, 3)}`, 'value', `b${index}`]);
    }
    await engine.flush();
    for (let index = 0; index < 60; index += 5) {
      await engine.delete(`k${pad(index, 3)}`);
      model.set(`k${pad(index, 3)}`, [`k${pad(index, 3)}`, 'tombstone', '']);
    }
    await engine.put('k999', bytes('tail'));
    model.set('k999', ['k999', 'value', 'tail']);
    const expected = [...model.keys()].sort().map((key) => model.get(key)!);
    expect(await dump(engine, 7)).toEqual(expected);

    const page = await engine.scan({ start: 'k010', end: 'k020', limit: 4 });
    expect(page.entries.map((entry) => entry.key)).toEqual(['k010', 'k011', 'k012', 'k013']);
    expect(page.next).toBe(keyAfter('k013'));
    const rest = await engine.scan({ start: page.next!, end: 'k020', limit: 100 });
    expect(rest.entries.map((entry) => entry.key)).toEqual(['k014', 'k015', 'k016', 'k017', 'k018', 'k019']);
    expect(rest.next).toBeUndefined();
  });

  it('validates scan bounds and limits', async () => {
    // A limit of 0 or above the maximum and a non-string bound are option errors.
    const engine = await openEngine();
    await expectCode(engine.scan({ limit: 0 }), 'KV_ERR_INVALID_OPTION');
    await expectCode(engine.scan({ limit: 10_001 }), 'KV_ERR_INVALID_OPTION');
    await expectCode(engine.scan({ start: 5 as unknown as string }), 'KV_ERR_INVALID_OPTION');
    expect((await engine.scan({ start: 'z', end: 'a' })).entries).toEqual([]);
  });
});

describe('limits and typed errors', () => {
  it('refuses bad keys on every operation with KV_ERR_KEY_INVALID or KV_ERR_KEY_TOO_LARGE', async () => {
    // Missing, wrong type, empty, lone surrogate, and one byte over 1 KiB (counted in UTF-8 bytes).
    const engine = await openEngine();
    const invalid: unknown[] = [undefined, null, 42, {}, '', '\ud800', 'a\udc00b'];
    for (const key of invalid) {
      await expectCode(engine.put(key as string, bytes('v')), 'KV_ERR_KEY_INVALID');
      await expectCode(engine.get(key as string), 'KV_ERR_KEY_INVALID');
      await expectCode(engine.delete(key as string), 'KV_ERR_KEY_INVALID');
      await expectCode(
        engine.update(key as string, () => undefined),
        'KV_ERR_KEY_INVALID',
      );
    }
    await engine.put('x'.repeat(MAX_KEY_BYTES), bytes('fits'));
    await expectCode(engine.put('x'.repeat(MAX_KEY_BYTES + 1), bytes('v')), 'KV_ERR_KEY_TOO_LARGE');
    // 342 three-byte characters are 1,026 bytes though only 342 UTF-16 units.
    await expectCode(engine.put('€'.repeat(342), bytes('v')), 'KV_ERR_KEY_TOO_LARGE');
    await engine.put('€'.repeat(341), bytes('fits'));
    expect(text(await engine.getValue('€'.repeat(341)))).toBe('fits');
  });

  it('refuses values that are not bytes or exceed maxValueBytes, with the limit in the error', async () => {
    // Default 1 MiB: exactly 1 MiB passes, one byte more is KV_ERR_VALUE_TOO_LARGE; strings are not bytes.
    const engine = await openEngine({ memtableBytes: 4 * 1024 * 1024 });
    await engine.put('max', new Uint8Array(1024 * 1024));
    const error = await engine
      .put('over', new Uint8Array(1024 * 1024 + 1))
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: 'KV_ERR_VALUE_TOO_LARGE',
      details: { maxBytes: 1024 * 1024, byteLength: 1024 * 1024 + 1 },
    });
    await expectCode(engine.put('s', 'text' as unknown as Uint8Array), 'KV_ERR_VALUE_INVALID');
    await expectCode(engine.put('s', undefined as unknown as Uint8Array), 'KV_ERR_VALUE_INVALID');
    await expectCode(
      engine.delete('s', { value: new Uint8Array(1024 * 1024 + 1) }),
      'KV_ERR_VALUE_TOO_LARGE',
    );
    await expectCode(
      engine.update('s', () => ({ kind: 'value', value: new Uint8Array(1024 * 1024 + 1) })),
      'KV_ERR_VALUE_TOO_LARGE',
    );
    await expectCode(engine.put('t', bytes('v'), { timestampMs: -1 }), 'KV_ERR_INVALID_OPTION');
    expect(await engine.get('over')).toBeUndefined();
  });

  it('applies a configured maxValueBytes', async () => {
    // With maxValueBytes 10, 10 bytes pass and 11 do not.
    const engine = await openEngine({ maxValueBytes: 10 });
    await engine.put('k', new Uint8Array(10));
    await expectCode(engine.put('k', new Uint8Array(11)), 'KV_ERR_VALUE_TOO_LARGE');
  });

  it('refuses out-of-range options, naming the option', async () => {
    // Each bad option alone makes open fail with KV_ERR_INVALID_OPTION and the option's name.
    const dir = await temp.dir();
    const bad: Array<[string, Record<string, unknown>]> = [
      ['fsync', { fsync: 'sometimes' }],
      ['memtableBytes', { memtableBytes: 10 }],
      ['bloomFalsePositiveRate', { bloomFalsePositiveRate: 1 }],
      ['maxValueBytes', { maxValueBytes: 1024 * 1024 * 1024 }],
      ['tombstoneGraceMs', { tombstoneGraceMs: -5 }],
      ['compaction.minThreshold', { compaction: { minThreshold: 1 } }],
      ['blockBytes', { blockBytes: 1.5 }],
    ];
    for (const [name, overrides] of bad) {
      const error = await StorageEngine.open(testOptions(dir, overrides)).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'KV_ERR_INVALID_OPTION', details: { option: name } });
    }
    await expectCode(StorageEngine.open({ dir: '' }), 'KV_ERR_INVALID_OPTION');
  });

  it('sheds writes beyond maxPendingWrites with KV_ERR_OVERLOADED and completes the rest', async () => {
    // 50 writes against a queue bound of 10 while the log is busy: some refused, every accepted one readable.
    const engine = await openEngine({ maxPendingWrites: 10 });
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, index) => engine.put(`k${index}`, bytes(`${index}`))),
    );
    const refused = results.filter((result) => result.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const result of refused)
      expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'KV_ERR_OVERLOADED' });
    for (const [index, result] of results.entries()) {
      if (result.status === 'fulfilled') expect(text(await engine.getValue(`k${index}`))).toBe(`${index}`);
    }
    // Writes waiting behind earlier writes of the same hot key count too: the bound holds for one key.
    const hot = await Promise.allSettled(
      Array.from({ length: 50 }, (_, index) => engine.put('hot', bytes(`${index}`))),
    );
    expect(hot.filter((result) => result.status === 'fulfilled')).toHaveLength(10);
    expect(engine.stats().pendingWrites).toBe(0);
  });

  it('refuses every operation after close with KV_ERR_CLOSED', async () => {
    // Closed engines answer with a typed error, never a crash of the caller.
    const engine = await openEngine();
    await engine.close();
    await expectCode(engine.put('k', bytes('v')), 'KV_ERR_CLOSED');
    await expectCode(engine.get('k'), 'KV_ERR_CLOSED');
    await expectCode(engine.delete('k'), 'KV_ERR_CLOSED');
    await expectCode(engine.flush(), 'KV_ERR_CLOSED');
    await engine.close();
  });

  it('lets only one engine hold a directory at a time', async () => {
    // A second open of the same directory fails with KV_ERR_LOCKED; after close it succeeds.
    const dir = await temp.dir();
    const first = temp.track(await StorageEngine.open(testOptions(dir)));
    await expectCode(StorageEngine.open(testOptions(dir)), 'KV_ERR_LOCKED');
    await first.close();
    const second = temp.track(await StorageEngine.open(testOptions(dir)));
    await second.close();
  });
});

describe('read-modify-write', () => {
  it('serialises 100 concurrent updates of one key, losing none (as sibling merges need)', async () => {
    // Each update reads a counter and writes counter + 1; interleaving would lose increments.
    const engine = await openEngine();
    await Promise.all(
      Array.from({ length: 100 }, () =>
        engine.update('counter', (current) => ({
          kind: 'value',
          value: bytes(String(Number(text(current?.value) ?? '0') + 1)),
        })),
      ),
    );
    expect(text(await engine.getValue('counter'))).toBe('100');
  });

  it('orders plain puts and updates of one key in call order', async () => {
    // put(a), update(append b), put(c), update(append d): the result is "cd", and nothing else.
    const engine = await openEngine();
    const append = (suffix: string) => (current: { value: Uint8Array } | undefined) => ({
      kind: 'value' as const,
      value: bytes(`${text(current?.value) ?? ''}${suffix}`),
    });
    await Promise.all([
      engine.put('k', bytes('a')),
      engine.update('k', append('b')),
      engine.put('k', bytes('c')),
      engine.update('k', append('d')),
    ]);
    expect(text(await engine.getValue('k'))).toBe('cd');
  });

  it('writes nothing when the decision is undefined, and can write a tombstone', async () => {
    // An undefined decision leaves the sequence number alone; a tombstone decision deletes.
    const engine = await openEngine();
    const { seq } = await engine.put('k', bytes('v'));
    const unchanged = await engine.update('k', () => undefined);
    expect(unchanged).toMatchObject({ written: false, entry: { seq } });
    const deleted = await engine.update('k', () => ({ kind: 'tombstone' }));
    expect(deleted).toMatchObject({ written: true, entry: { kind: 'tombstone' } });
    expect(await engine.getValue('k')).toBeUndefined();
  });
});

describe('durability modes', () => {
  it('shares one fsync among concurrent writers in fsync=always mode (group commit)', async () => {
    // 200 concurrent puts: every one acknowledged after an fsync, with far fewer fsyncs than writes.
    const engine = await openEngine({ fsync: 'always' });
    await Promise.all(Array.from({ length: 200 }, (_, index) => engine.put(`k${index}`, bytes('v'))));
    const { counters } = engine.stats();
    expect(counters.writes).toBe(200);
    expect(counters.logSyncs).toBe(counters.logBatches);
    expect(counters.logSyncs).toBeLessThan(50);
  });

  it('fsyncs on a timer in fsync=interval mode', async () => {
    // With a 5 ms interval, a write is followed by a background fsync without any other call.
    const engine = await openEngine({ fsync: 'interval', fsyncIntervalMs: 5 });
    await engine.put('k', bytes('v'));
    const deadline = Date.now() + 2_000;
    while (engine.stats().counters.logSyncs === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
    expect(engine.stats().counters.logSyncs).toBeGreaterThan(0);
  });
});

describe('tombstone grace', () => {
  it('reports tombstones past the grace period so anti-entropy can skip them', async () => {
    // isPastGrace turns true exactly when the grace period has elapsed on the injected clock.
    const clock = manualClock();
    const engine = await openEngine({ now: clock.now, tombstoneGraceMs: 1_000 });
    await engine.delete('k');
    const tombstone = (await engine.get('k'))!;
    expect(engine.isPastGrace(tombstone)).toBe(false);
    clock.advance(999);
    expect(engine.isPastGrace(tombstone)).toBe(false);
    clock.advance(1);
    expect(engine.isPastGrace(tombstone)).toBe(true);
  });
});
