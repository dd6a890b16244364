import {
  digestVersions,
  type HintLimits,
  type HintStore,
  MemoryHintStore,
  QuorumErrorCode,
  reconcile,
  type Version,
} from '@sysdesign/quorum';
import { tempDir } from '@sysdesign/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageEngine } from '../../src/storage/index.js';
import { EngineHintStore } from '../../src/store/hint-store.js';

/**
 * The HintStore contract, run against the library's memory store and the engine-backed one:
 * per-key merging, owners, oldest-first pending lists, digest-checked delivery, bounds and expiry.
 * The engine store must also still hold its hints after the node restarts (or crashes).
 */

const engines: StorageEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) if (engine.stats().state !== 'closed') await engine.close();
});

async function openEngine(dir?: string): Promise<{ engine: StorageEngine; dir: string }> {
  const directory = dir ?? (await tempDir('kv-hint-store-'));
  const engine = await StorageEngine.open({ dir: directory, fsync: 'interval', tombstoneGraceMs: 0 });
  engines.push(engine);
  return { engine, dir: directory };
}

function version(actor: string, counter: number, value: string): Version {
  return { dot: { actor, counter, timeMs: counter }, clock: [], value: Buffer.from(value) };
}
const merge = (versions: Version[]) => (current: readonly Version[]) => reconcile(current, versions);
const B = 'http://b:1';
const C = 'http://c:1';

const adapters: Array<[string, (limits?: Partial<HintLimits>) => Promise<HintStore>]> = [
  ['memory', async (limits) => new MemoryHintStore(limits)],
  ['engine', async (limits) => EngineHintStore.open((await openEngine()).engine, limits)],
];

describe.each(adapters)('HintStore contract: %s', (_name, create) => {
  it('merges hints per key across owners and lists what each owner is owed, oldest first', async () => {
    // Proves hints are per key (one set whatever replica they are for) and pending() follows update order.
    const hints = await create();
    await hints.update(B, 'k1', merge([version('a#1', 1, 'x')]), 10);
    await hints.update(C, 'k2', merge([version('a#1', 2, 'y')]), 20);
    await hints.update(C, 'k1', merge([version('d#1', 1, 'z')]), 30);
    expect((await hints.read('k1')).length).toBe(2);
    expect((await hints.owners()).sort()).toEqual([B, C]);
    expect((await hints.pending(C, 10)).map((entry) => entry.key)).toEqual(['k2', 'k1']);
    expect((await hints.pending(B, 10)).map((entry) => entry.key)).toEqual(['k1']);
    expect(await hints.pending(C, 1)).toHaveLength(1);
    expect(hints.stats().entries).toBe(2);
  });

  it('drops an owner on delivery only if the versions did not change since, and the key when no owner is left', async () => {
    // Proves delivered() compares digests: a hint that gained a version meanwhile is still owed.
    const hints = await create();
    await hints.update(B, 'k', merge([version('a#1', 1, 'x')]), 10);
    const stale = digestVersions(await hints.read('k'));
    await hints.update(B, 'k', merge([version('a#1', 2, 'newer')]), 11);
    await hints.delivered(B, 'k', stale);
    expect(await hints.owners()).toEqual([B]);
    await hints.delivered(B, 'k', digestVersions(await hints.read('k')));
    expect(await hints.owners()).toEqual([]);
    expect(await hints.read('k')).toEqual([]);
    expect(hints.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it('refuses a hint beyond its key or byte bound with HINTS_FULL, and expires hints by age', async () => {
    // Proves the bounds hold and old hints go (anti-entropy's job after that).
    const hints = await create({ maxEntries: 2, maxAgeMs: 100 });
    await hints.update(B, 'k1', merge([version('a#1', 1, 'x')]), 0);
    await hints.update(B, 'k2', merge([version('a#1', 2, 'y')]), 50);
    await expect(hints.update(B, 'k3', merge([version('a#1', 3, 'z')]), 60)).rejects.toMatchObject({
      code: QuorumErrorCode.HINTS_FULL,
    });
    expect(hints.stats().refused).toBe(1);
    expect(await hints.expire(120)).toBe(1);
    expect((await hints.pending(B, 10)).map((entry) => entry.key)).toEqual(['k2']);
    const small = await create({ maxBytes: 100 });
    await expect(
      small.update(B, 'big', merge([version('a#1', 1, 'v'.repeat(200))]), 0),
    ).rejects.toMatchObject({
      code: QuorumErrorCode.HINTS_FULL,
    });
  });
});

describe('EngineHintStore', () => {
  it('still holds its hints, owners and order after a crash and reopen', async () => {
    // Proves hints survive a restart of the node holding them, so hand-off still happens after it.
    const { engine, dir } = await openEngine();
    const hints = await EngineHintStore.open(engine);
    await hints.update(C, 'later', merge([version('a#1', 2, 'y')]), 20);
    await hints.update(B, 'first', merge([version('a#1', 1, 'x')]), 10);
    await hints.update(C, 'done', merge([version('a#1', 3, 'z')]), 30);
    await hints.delivered(C, 'done', digestVersions(await hints.read('done')));
    await engine.crash();
    const reopened = await EngineHintStore.open((await openEngine(dir)).engine);
    expect((await reopened.owners()).sort()).toEqual([B, C]);
    expect((await reopened.pending(C, 10)).map((entry) => entry.key)).toEqual(['later']);
    expect(Buffer.from((await reopened.read('first'))[0]!.value!).toString()).toBe('x');
    expect(reopened.stats().entries).toBe(2);
  });
});
