import { describe, expect, it } from 'vitest';
import {
  Coordinator,
  encodeContext,
  InvalidContextError,
  type PeerResponse,
  QuorumErrorCode,
  QuorumNotMetError,
  type VectorClock,
  type Version,
} from '../src/index.js';
import { bytes, createTestCluster, rejection } from './helpers.js';

describe('coordinator: what a caller hands it is checked at the boundary', () => {
  it('refuses a raw X-Context string with a non-retryable InvalidContextError and stores nothing', async () => {
    const cluster = createTestCluster();
    const first = await cluster.run(cluster.coordinator('node-a').put('k', bytes('v1')));
    const header = encodeContext(first.context) as unknown as VectorClock;
    const error = await cluster.run(rejection(cluster.coordinator('node-a').put('k', bytes('v2'), header)));
    expect(error).toBeInstanceOf(InvalidContextError);
    expect(error).not.toBeInstanceOf(QuorumNotMetError);
    expect(error.code).toBe(QuorumErrorCode.INVALID_CONTEXT);
    expect(error.message).toContain('decodeContext');
    await cluster.clock.advance(50);
    for (const id of ['node-a', 'node-b', 'node-c']) expect(cluster.valuesOn(id, 'k')).toEqual(['v1']);
  });

  it('refuses a context whose entries are not clock entries, on put and on delete', async () => {
    const cluster = createTestCluster();
    const coordinator = cluster.coordinator('node-a');
    const garbage = [{ actor: 'node-a#1', counter: 'one', timeMs: 0 }] as unknown as VectorClock;
    const onPut = await cluster.run(rejection(coordinator.put('k', bytes('v'), garbage)));
    const onDelete = await cluster.run(rejection(coordinator.delete('k', garbage)));
    expect(onPut).toBeInstanceOf(InvalidContextError);
    expect(onDelete).toBeInstanceOf(InvalidContextError);
    expect(onPut.message).toContain('entry 0');
  });

  it('rejects the read, instead of throwing out of a promise callback, when an answer cannot be reconciled', async () => {
    // A peer answering with a version that has no dot: reconciling it throws. Before the fix, the
    // throw happened inside `.then` and surfaced as an unhandled rejection (which fails this run).
    const broken = { dot: null, clock: [], value: bytes('x') } as unknown as Version;
    const answer: PeerResponse = { type: 'versions', versions: [broken] };
    const coordinator = new Coordinator({
      self: 'node-a',
      transport: { request: async () => answer },
      preferenceList: () => ['node-a', 'node-b', 'node-c'],
      n: 3,
      r: 1,
      w: 1,
      timeoutMs: 200,
    });
    await expect(coordinator.get('k')).rejects.toThrow(TypeError);
  });
});
