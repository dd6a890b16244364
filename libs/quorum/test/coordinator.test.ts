import { describe, expect, it } from 'vitest';
import { contextOf, EMPTY_CLOCK, QuorumNotMetError } from '../src/index.js';
import { bytes, createTestCluster, rejection, text } from './helpers.js';

describe('coordinator: N, W, R', () => {
  it('writes to all N replicas and reads the value back with R', async () => {
    // N=3 of 4 nodes: node-a..c hold the key, node-d does not.
    const cluster = createTestCluster();
    const written = await cluster.run(cluster.coordinator('node-a').put('user:1', bytes('alice')));
    expect(written.acknowledgedBy).toHaveLength(2);
    const read = await cluster.run(cluster.coordinator('node-d').get('user:1'));
    expect(read.found).toBe(true);
    expect(read.values.map(text)).toEqual(['alice']);
    await cluster.clock.advance(50);
    for (const id of ['node-a', 'node-b', 'node-c'])
      expect(cluster.valuesOn(id, 'user:1')).toEqual(['alice']);
    expect(cluster.valuesOn('node-d', 'user:1')).toEqual([]);
  });

  it('mints at itself when it is a replica, and forwards the mint to a replica when it is not', async () => {
    // The dot names the replica that coordinated the write.
    const cluster = createTestCluster();
    const local = await cluster.run(cluster.coordinator('node-b').put('k1', bytes('x')));
    expect(local.version.dot.actor).toBe('node-b#1');
    const forwarded = await cluster.run(cluster.coordinator('node-d').put('k2', bytes('y')));
    expect(forwarded.version.dot.actor).toBe('node-a#1');
  });

  it('acknowledges W=2 with one replica down, and fails W=3 saying 2 of 3 answered', async () => {
    // Strict quorum, node-c crashed but believed up: its request times out at the deadline.
    const cluster = createTestCluster({ sloppy: false });
    cluster.crash('node-c');
    const ok = await cluster.run(cluster.coordinator('node-a').put('k', bytes('v')));
    expect(ok.acknowledgedBy.sort()).toEqual(['node-a', 'node-b']);
    const startedMs = cluster.clock.now();
    const error = await cluster.run(
      rejection(cluster.coordinator('node-a').put('k', bytes('v2'), ok.context, { w: 3 })),
    );
    expect(error).toBeInstanceOf(QuorumNotMetError);
    const notMet = error as QuorumNotMetError;
    expect({ required: notMet.required, answered: notMet.answered, contacted: notMet.contacted }).toEqual({
      required: 3,
      answered: 2,
      contacted: 3,
    });
    expect(notMet.message).toMatch(/put needs 3 of 3 replicas; 2 answered within 100 ms/);
    expect(notMet.failures).toEqual([{ node: 'node-c', reason: 'no answer within 100 ms' }]);
    expect(cluster.clock.now() - startedMs).toBe(100);
  });

  it('fails a read when fewer than R replicas answer, and succeeds with a per-request R=1', async () => {
    // Two of three replicas crashed: R=2 cannot be met; R=1 can.
    const cluster = createTestCluster({ sloppy: false });
    await cluster.run(cluster.coordinator('node-a').put('k', bytes('v')));
    await cluster.clock.advance(10);
    cluster.crash('node-b');
    cluster.crash('node-c');
    const error = (await cluster.run(rejection(cluster.coordinator('node-a').get('k')))) as QuorumNotMetError;
    expect(error.code).toBe('QUORUM_ERR_NOT_MET');
    expect(error.message).toMatch(/get needs 2 of 3 replicas; 1 answered/);
    const one = await cluster.run(cluster.coordinator('node-a').get('k', { r: 1 }));
    expect(one.values.map(text)).toEqual(['v']);
  });

  it('returns concurrent writes as siblings, and a write with the merged context resolves them', async () => {
    // Two clients read the same version, both write: both survive; then one writes over both.
    const cluster = createTestCluster();
    const first = await cluster.run(cluster.coordinator('node-a').put('cart', bytes('milk')));
    const [left, right] = await cluster.run(
      Promise.all([
        cluster.coordinator('node-b').put('cart', bytes('milk,eggs'), first.context),
        cluster.coordinator('node-c').put('cart', bytes('milk,bread'), first.context),
      ]),
    );
    expect(left.version.dot).not.toEqual(right.version.dot);
    const conflicted = await cluster.run(cluster.coordinator('node-a').get('cart', { r: 3 }));
    expect(conflicted.values.map(text).sort()).toEqual(['milk,bread', 'milk,eggs']);
    await cluster.run(
      cluster.coordinator('node-a').put('cart', bytes('milk,eggs,bread'), conflicted.context),
    );
    const resolved = await cluster.run(cluster.coordinator('node-d').get('cart', { r: 3 }));
    expect(resolved.values.map(text)).toEqual(['milk,eggs,bread']);
  });

  it('keeps a blind write (no context) as a sibling rather than overwriting', async () => {
    // Without a context the coordinator cannot know what the client meant to replace.
    const cluster = createTestCluster();
    await cluster.run(cluster.coordinator('node-a').put('k', bytes('one')));
    await cluster.run(cluster.coordinator('node-a').put('k', bytes('two')));
    const read = await cluster.run(cluster.coordinator('node-a').get('k'));
    expect(read.values.map(text).sort()).toEqual(['one', 'two']);
  });

  it('deletes what the context covers; without a context it deletes what a quorum read sees', async () => {
    // delete(k, ctx) and delete(k) both leave a tombstone that reads as not found, with a context.
    const cluster = createTestCluster();
    const put = await cluster.run(cluster.coordinator('node-a').put('a', bytes('1')));
    await cluster.run(cluster.coordinator('node-b').delete('a', put.context));
    const afterDelete = await cluster.run(cluster.coordinator('node-c').get('a'));
    expect(afterDelete.found).toBe(false);
    expect(afterDelete.versions).toHaveLength(1);
    expect(afterDelete.versions[0]!.value).toBeNull();
    expect(afterDelete.context).not.toEqual(EMPTY_CLOCK);

    await cluster.run(cluster.coordinator('node-a').put('b', bytes('1')));
    await cluster.run(cluster.coordinator('node-a').put('b', bytes('2')));
    await cluster.run(cluster.coordinator('node-d').delete('b'));
    expect((await cluster.run(cluster.coordinator('node-a').get('b', { r: 3 }))).found).toBe(false);
    // A write over the tombstone's context brings the key back.
    await cluster.run(cluster.coordinator('node-a').put('a', bytes('again'), afterDelete.context));
    expect((await cluster.run(cluster.coordinator('node-a').get('a'))).values.map(text)).toEqual(['again']);
  });

  it('reports a delete whose preliminary read fails as a failed delete', async () => {
    // delete(k) without a context must read first; with two replicas gone that read cannot succeed.
    const cluster = createTestCluster({ sloppy: false });
    cluster.crash('node-b');
    cluster.crash('node-c');
    const error = (await cluster.run(
      rejection(cluster.coordinator('node-a').delete('k')),
    )) as QuorumNotMetError;
    expect(error.operation).toBe('delete');
    expect(error.message).toMatch(/^delete needs 2 of 3 replicas; 1 answered/);
  });

  it('repairs a stale replica after a read, in the background', async () => {
    // node-c missed the write (its link from node-a was cut); a read through node-a sends it the value.
    const cluster = createTestCluster({ w: 2 });
    cluster.network.cut('node-a', 'node-c');
    await cluster.run(cluster.coordinator('node-a').put('k', bytes('fresh')));
    await cluster.clock.advance(200);
    expect(cluster.valuesOn('node-c', 'k')).toEqual([]);
    cluster.network.heal();
    const read = await cluster.run(cluster.coordinator('node-a').get('k', { r: 2 }));
    expect(read.values.map(text)).toEqual(['fresh']);
    await cluster.clock.advance(50);
    expect(cluster.valuesOn('node-c', 'k')).toEqual(['fresh']);
    expect(cluster.coordinator('node-a').stats().readRepairs).toBe(1);
  });

  it('bounds read repair: beyond maxConcurrentReadRepairs, repairs are skipped and counted', async () => {
    // With a bound of 1, a read finding two stale replicas repairs one and skips the other.
    const cluster = createTestCluster({ maxConcurrentReadRepairs: 1 });
    cluster.network.cut('node-a', 'node-b');
    cluster.network.cut('node-a', 'node-c');
    cluster.crash('node-d');
    await cluster.run(cluster.coordinator('node-a').put('k', bytes('v'), EMPTY_CLOCK, { w: 1 }));
    cluster.network.heal();
    await cluster.run(cluster.coordinator('node-a').get('k', { r: 3 }));
    await cluster.clock.advance(50);
    const stats = cluster.coordinator('node-a').stats();
    expect(stats.readRepairs).toBe(1);
    expect(stats.readRepairsSkipped).toBe(1);
  });

  it('rejects bad arguments with the option named, before sending anything', async () => {
    // Each call breaks one input; none may reach the network.
    const cluster = createTestCluster();
    const coordinator = cluster.coordinator('node-a');
    const cases: Array<[() => Promise<unknown>, RegExp]> = [
      [() => coordinator.put('', bytes('v')), /key must be a non-empty string/],
      [() => coordinator.put('k'.repeat(1025), bytes('v')), /key must be at most 1024 bytes/],
      [() => coordinator.put('k', new Uint8Array(1024 * 1024 + 1)), /value is 1048577 bytes/],
      [() => coordinator.put('k', 'text' as unknown as Uint8Array), /value must be a Uint8Array/],
      [() => coordinator.put('k', bytes('v'), EMPTY_CLOCK, { w: 4 }), /w must be an integer in \[1, n=3\]/],
      [() => coordinator.get('k', { r: 0 }), /r must be an integer in \[1, n=3\]/],
      [() => coordinator.get('k', { n: 17 }), /n must be an integer in \[1, 16\]/],
      [() => coordinator.get('k', { r: 1.5 }), /r must be an integer/],
      [() => coordinator.get('k', { timeoutMs: 0 }), /timeoutMs must be a positive number/],
    ];
    for (const [call, message] of cases) {
      const error = await cluster.run(rejection(call()));
      expect(error.code).toBe('QUORUM_ERR_INVALID_OPTION');
      expect(error.message).toMatch(message);
    }
    expect(cluster.network.stats.requests).toBe(0);
  });

  it('copies the value, so a caller reusing its buffer cannot change what was stored', async () => {
    // The kv-store may reuse request buffers; the stored version must not alias them.
    const cluster = createTestCluster();
    const buffer = bytes('before');
    await cluster.run(cluster.coordinator('node-a').put('k', buffer));
    buffer.set(bytes('AFTER!'));
    expect(cluster.valuesOn('node-a', 'k')).toEqual(['before']);
  });
});

describe('coordinator: sloppy quorum', () => {
  it('writes to the next healthy node with a hint when a replica is known to be down', async () => {
    // node-b is down and the failure detector knows: node-d stands in for it.
    const cluster = createTestCluster({ w: 3 });
    cluster.crash('node-b');
    cluster.markDown('node-b');
    const written = await cluster.run(cluster.coordinator('node-a').put('k', bytes('v')));
    expect(written.acknowledgedBy.sort()).toEqual(['node-a', 'node-c', 'node-d']);
    expect(written.hinted).toBe(1);
    const hints = cluster.hints('node-d').peek();
    expect(hints).toHaveLength(1);
    expect(hints[0]!.owners).toEqual(['node-b']);
    expect(cluster.valuesOn('node-d', 'k')).toEqual([]);
  });

  it('fails the same write under strict quorum, where only the N replicas count', async () => {
    // Same failure, sloppy off: node-d is never asked and W=3 cannot be met.
    const cluster = createTestCluster({ w: 3, sloppy: false });
    cluster.crash('node-b');
    cluster.markDown('node-b');
    const error = (await cluster.run(
      rejection(cluster.coordinator('node-a').put('k', bytes('v'))),
    )) as QuorumNotMetError;
    expect(error.answered).toBe(2);
    expect(cluster.hints('node-d').peek()).toHaveLength(0);
  });

  it('replaces a replica that refuses the connection with the next fallback, within the deadline', async () => {
    // node-b is gone (connection refused) but the health view still says up: the failure is fast,
    // so the coordinator retries on node-d as a hint for node-b.
    const cluster = createTestCluster({ w: 3 });
    cluster.network.unregister('node-b');
    const written = await cluster.run(cluster.coordinator('node-a').put('k', bytes('v')));
    expect(written.acknowledgedBy.sort()).toEqual(['node-a', 'node-c', 'node-d']);
    expect(cluster.hints('node-d').peek()[0]!.owners).toEqual(['node-b']);
  });

  it('reads hinted versions from a fallback, so R can be met while a replica is away', async () => {
    // The value lives on node-a, node-c and (as a hint for node-b) node-d; node-a then crashes too.
    const cluster = createTestCluster({ w: 3 });
    cluster.crash('node-b');
    cluster.markDown('node-b');
    await cluster.run(cluster.coordinator('node-a').put('k', bytes('v')));
    cluster.crash('node-a');
    cluster.markDown('node-a');
    const read = await cluster.run(cluster.coordinator('node-c').get('k', { r: 2 }));
    expect(read.values.map(text)).toEqual(['v']);
    expect(read.answeredBy.sort()).toEqual(['node-c', 'node-d']);
  });

  it('stops at the hint bound: a full fallback refuses the hint and the write counts one fewer', async () => {
    // node-d keeps at most one hinted key: the second key's hint is refused, so W=3 fails for it.
    const cluster = createTestCluster({ w: 3, hintLimits: { maxEntries: 1 } });
    cluster.crash('node-b');
    cluster.markDown('node-b');
    await cluster.run(cluster.coordinator('node-a').put('first', bytes('v')));
    const error = (await cluster.run(
      rejection(cluster.coordinator('node-a').put('second', bytes('v'))),
    )) as QuorumNotMetError;
    // It fails as soon as W=3 is out of reach, without waiting for node-c's answer or the deadline.
    expect(error.required).toBe(3);
    expect(error.failures.map((failure) => `${failure.node}: ${failure.reason}`).join(' ')).toMatch(
      /node-d: hint store full/,
    );
    expect(cluster.hints('node-d').stats().refused).toBe(1);
  });

  it('gives each merged sibling set a context that covers exactly what was read', async () => {
    // contextOf(siblings) is what GET returns; it must cover every sibling, tombstones included.
    const cluster = createTestCluster();
    await cluster.run(cluster.coordinator('node-a').put('k', bytes('1')));
    await cluster.run(cluster.coordinator('node-b').put('k', bytes('2')));
    const read = await cluster.run(cluster.coordinator('node-c').get('k', { r: 3 }));
    expect(read.context).toEqual(contextOf(read.versions));
    expect(read.context.map((entry) => entry.actor).sort()).toEqual(['node-a#1', 'node-b#1']);
  });
});
