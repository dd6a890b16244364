import {
  MemoryReplicaStore,
  QuorumErrorCode,
  type ReplicaStore,
  reconcile,
  type Version,
} from '@sysdesign/quorum';
import { tempDir } from '@sysdesign/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageEngine } from '../../src/storage/index.js';
import { EngineReplicaStore } from '../../src/store/replica-store.js';

/**
 * The ReplicaStore contract (@sysdesign/quorum's store.ts), run against the library's memory store
 * and the engine-backed one: atomic per key, nothing dropped, every key listed. The engine store
 * also keeps everything across a reopen (and a crash), and writes nothing when nothing changes.
 */

const engines: StorageEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) if (engine.stats().state !== 'closed') await engine.close();
});

async function openEngine(dir?: string): Promise<{ engine: StorageEngine; dir: string }> {
  const directory = dir ?? (await tempDir('kv-replica-store-'));
  const engine = await StorageEngine.open({ dir: directory, fsync: 'interval', maxValueBytes: 64 * 1024 });
  engines.push(engine);
  return { engine, dir: directory };
}

function version(
  actor: string,
  counter: number,
  value: string | null,
  clock: Version['clock'] = [],
): Version {
  return {
    dot: { actor, counter, timeMs: 1_000 + counter },
    clock,
    value: value === null ? null : Buffer.from(value),
  };
}

const text = (versions: readonly Version[]) =>
  versions
    .map((v) => `${v.dot.actor}:${v.dot.counter}=${v.value === null ? '∅' : Buffer.from(v.value).toString()}`)
    .sort();

const adapters: Array<[string, () => Promise<ReplicaStore>]> = [
  ['memory', async () => new MemoryReplicaStore()],
  ['engine', async () => new EngineReplicaStore((await openEngine()).engine)],
];

describe.each(adapters)('ReplicaStore contract: %s', (_name, create) => {
  it('returns an empty set for an unknown key and the stored set after an update', async () => {
    // Proves read/update agree and update returns the new set.
    const store = await create();
    expect(await store.read('k')).toEqual([]);
    const written = await store.update('k', () => [version('a#1', 1, 'x')]);
    expect(text(written)).toEqual(['a#1:1=x']);
    expect(text(await store.read('k'))).toEqual(['a#1:1=x']);
  });

  it('serialises concurrent updates of one key: 50 merges of distinct siblings keep all 50', async () => {
    // Proves atomicity per key: with a lost update some sibling would be missing.
    const store = await create();
    await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        store.update('hot', (current) => reconcile(current, [version(`n${index}#1`, 1, `v${index}`)])),
      ),
    );
    expect((await store.read('hot')).length).toBe(50);
  });

  it('keeps tombstones as versions and leaves the store unchanged when the update throws', async () => {
    // Proves deletes are data (a tombstone version) and a refused update changes nothing.
    const store = await create();
    await store.update('k', () => [version('a#1', 1, null)]);
    expect(text(await store.read('k'))).toEqual(['a#1:1=∅']);
    await expect(
      store.update('k', () => {
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(text(await store.read('k'))).toEqual(['a#1:1=∅']);
  });

  it('lists every key with its versions, tombstones included', async () => {
    // Proves entries() covers the whole store (the Merkle trees are rebuilt from it).
    const store = await create();
    for (let index = 0; index < 30; index++) {
      await store.update(`key-${index}`, () => [
        version('a#1', index + 1, index % 3 === 0 ? null : `v${index}`),
      ]);
    }
    const listed = new Map<string, string[]>();
    for await (const { key, versions } of store.entries()) listed.set(key, text(versions));
    expect(listed.size).toBe(30);
    expect(listed.get('key-3')).toEqual(['a#1:4=∅']);
  });
});

describe('EngineReplicaStore', () => {
  it('keeps every acknowledged update across a reopen and a simulated crash', async () => {
    // Proves the durability half of the contract over the LSM engine (recovery replays the log).
    const { engine, dir } = await openEngine();
    const store = new EngineReplicaStore(engine);
    for (let index = 0; index < 100; index++)
      await store.update(`k${index}`, () => [version('a#1', index + 1, `v${index}`)]);
    await engine.crash();
    const reopened = new EngineReplicaStore((await openEngine(dir)).engine);
    for (let index = 0; index < 100; index++)
      expect(text(await reopened.read(`k${index}`))).toEqual([`a#1:${index + 1}=v${index}`]);
  });

  it('writes no log record when a merge changes nothing (replication of a set already held)', async () => {
    // Proves the no-op path: anti-entropy and read repair of in-sync keys cost a read, not a write.
    const { engine } = await openEngine();
    const store = new EngineReplicaStore(engine);
    const set = [version('a#1', 1, 'x'), version('b#1', 1, 'y')];
    await store.update('k', (current) => reconcile(current, set));
    const writes = engine.stats().counters.writes;
    for (let round = 0; round < 5; round++) await store.update('k', (current) => reconcile(current, set));
    expect(engine.stats().counters.writes).toBe(writes);
  });

  it('stores a set of tombstones as an engine tombstone dated by its newest delete, so compaction can expire it', async () => {
    // Proves deletes reach the engine's grace-period purge; a set with a live sibling stays a value.
    const { engine } = await openEngine();
    const store = new EngineReplicaStore(engine);
    await store.update('deleted', () => [version('a#1', 5, null), version('b#1', 9, null)]);
    await store.update('mixed', () => [version('a#1', 5, null), version('b#1', 9, 'alive')]);
    expect(await engine.get('deleted')).toMatchObject({ kind: 'tombstone', timestampMs: 1_009 });
    expect(await engine.get('mixed')).toMatchObject({ kind: 'value' });
  });

  it('turns a sibling set too large for one engine record into TOO_MANY_SIBLINGS', async () => {
    // Proves an oversized merge is refused with the error the coordinator maps to 409, not a 500.
    const { engine } = await openEngine();
    const store = new EngineReplicaStore(engine);
    const big = 'x'.repeat(40 * 1024);
    await store.update('k', () => [version('a#1', 1, big)]);
    await expect(
      store.update('k', (current) => reconcile(current, [version('b#1', 1, big)])),
    ).rejects.toMatchObject({
      code: QuorumErrorCode.TOO_MANY_SIBLINGS,
    });
    expect((await store.read('k')).length).toBe(1);
  });
});
