import { describe, expect, it } from 'vitest';
import { ClockScope, type PeerRequest, type PeerResponse, QuorumError, sleep } from '../src/index.js';
import { MemoryNetwork, Random, VirtualClock } from '../src/testing.js';

const read: PeerRequest = { type: 'read', key: 'k' };
const echo = async (): Promise<PeerResponse> => ({ type: 'stored', count: 1 });

function setup(options: { dropRate?: number; duplicateRate?: number; seed?: number } = {}) {
  const clock = new VirtualClock();
  const network = new MemoryNetwork({
    clock,
    random: new Random(options.seed ?? 1),
    latency: { minMs: 5, maxMs: 5 },
    dropRate: options.dropRate ?? 0,
    duplicateRate: options.duplicateRate ?? 0,
  });
  return { clock, network };
}

async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return error instanceof QuorumError ? error.code : String(error);
  }
}

describe('virtual clock', () => {
  it('fires timers in time order, ties in the order they were set, and runs continuations in between', async () => {
    // Three timers at 10, 5, 10 ms and a promise chain started by the first: the log shows the order.
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.setTimer(10, () => log.push('b@10'));
    clock.setTimer(5, () => {
      log.push('a@5');
      void Promise.resolve().then(() => log.push('a-continuation'));
    });
    clock.setTimer(10, () => log.push('c@10'));
    await clock.advance(10);
    expect(log).toEqual(['a@5', 'a-continuation', 'b@10', 'c@10']);
    expect(clock.now()).toBe(10);
  });

  it('runs a promise to completion in virtual time, and reports one that can never settle', async () => {
    // sleep(1 hour) completes instantly in wall time; a promise with no timer behind it is a deadlock.
    const clock = new VirtualClock();
    const started = Date.now();
    await clock.run(sleep(clock, 3_600_000));
    expect(clock.now()).toBe(3_600_000);
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(clock.run(new Promise(() => {}))).rejects.toThrow(/can never settle/);
  });

  it('cancels every timer of a disposed scope and refuses new ones', async () => {
    // A crashed node's scope is disposed: none of its loops may fire afterwards.
    const clock = new VirtualClock();
    const scope = new ClockScope(clock);
    let fired = 0;
    scope.setTimer(10, () => fired++);
    scope.setTimer(20, () => fired++);
    scope.dispose();
    scope.setTimer(5, () => fired++);
    await clock.advance(100);
    expect(fired).toBe(0);
  });
});

describe('in-memory network', () => {
  it('delivers a request and its answer after the configured latency each way', async () => {
    // 5 ms there, 5 ms back: the answer arrives at t=10.
    const { clock, network } = setup();
    network.register('b', echo);
    const response = await clock.run(network.transport('a').request('b', read, { timeoutMs: 100 }));
    expect(response).toEqual({ type: 'stored', count: 1 });
    expect(clock.now()).toBe(10);
  });

  it('times out requests to a crashed node, and fails the crashed node’s own requests at once', async () => {
    // b crashed: a waits its full timeout. a crashes while waiting on c: the request fails immediately.
    const { clock, network } = setup();
    network.register('b', echo);
    network.register('c', async () => {
      await sleep(clock, 1000);
      return { type: 'stored', count: 1 };
    });
    network.crash('b');
    const toCrashed = network.transport('a').request('b', read, { timeoutMs: 50 });
    expect(await clock.run(outcome(toCrashed))).toBe('QUORUM_ERR_TIMEOUT');
    expect(clock.now()).toBe(50);
    const pending = outcome(network.transport('a').request('c', read, { timeoutMs: 5000 }));
    await clock.advance(20);
    network.crash('a');
    expect(await clock.run(pending)).toBe('QUORUM_ERR_UNREACHABLE');
    expect(clock.now()).toBe(70);
    network.restart('b');
    expect(await clock.run(outcome(network.transport('c').request('b', read, { timeoutMs: 50 })))).toBe('ok');
  });

  it('refuses unknown nodes fast, and reports a handler error as the peer’s error', async () => {
    // No timeout wait for a node that does not exist; a thrown QuorumError keeps its code.
    const { clock, network } = setup();
    network.register('b', async () => {
      throw new QuorumError('QUORUM_ERR_HINTS_FULL', 'full');
    });
    expect(
      await clock.run(outcome(network.transport('a').request('nobody', read, { timeoutMs: 1000 }))),
    ).toBe('QUORUM_ERR_UNREACHABLE');
    expect(clock.now()).toBe(5);
    expect(await clock.run(outcome(network.transport('a').request('b', read, { timeoutMs: 1000 })))).toBe(
      'QUORUM_ERR_HINTS_FULL',
    );
  });

  it('cuts links between the sides of a partition, both ways, until healed', async () => {
    // {a, b} | {c}: a reaches b but not c; c reaches neither; after heal everyone reaches everyone.
    const { clock, network } = setup();
    for (const node of ['a', 'b', 'c']) network.register(node, echo);
    network.partition(['a', 'b'], ['c']);
    const ask = (from: string, to: string) =>
      clock.run(outcome(network.transport(from).request(to, read, { timeoutMs: 20 })));
    expect(await ask('a', 'b')).toBe('ok');
    expect(await ask('a', 'c')).toBe('QUORUM_ERR_TIMEOUT');
    expect(await ask('c', 'b')).toBe('QUORUM_ERR_TIMEOUT');
    network.heal();
    expect(await ask('c', 'a')).toBe('ok');
  });

  it('cuts one direction only: a request crosses, its answer does not (applied, never acknowledged)', async () => {
    // cut(a -> b): b's request reaches a and a handles it, but a's answer to b is lost.
    const { clock, network } = setup();
    let handledByA = 0;
    network.register('a', async () => {
      handledByA++;
      return { type: 'stored', count: 1 };
    });
    network.register('b', echo);
    network.cut('a', 'b');
    const ask = (from: string, to: string) =>
      clock.run(outcome(network.transport(from).request(to, read, { timeoutMs: 20 })));
    expect(await ask('a', 'b')).toBe('QUORUM_ERR_TIMEOUT');
    expect(await ask('b', 'a')).toBe('QUORUM_ERR_TIMEOUT');
    expect(handledByA).toBe(1);
  });

  it('loses about the configured share of messages and duplicates requests', async () => {
    // 1,000 requests at 10% loss each way lose about 19% of round trips; duplicates reach the handler twice.
    const { clock, network } = setup({ dropRate: 0.1, duplicateRate: 0.2, seed: 3 });
    let handled = 0;
    network.register('b', async () => {
      handled++;
      return { type: 'stored', count: 1 };
    });
    const results = await clock.run(
      Promise.all(
        Array.from({ length: 1000 }, () =>
          outcome(network.transport('a').request('b', read, { timeoutMs: 50 })),
        ),
      ),
    );
    const failed = results.filter((result) => result !== 'ok').length;
    expect(failed).toBeGreaterThan(120);
    expect(failed).toBeLessThan(260);
    expect(network.stats.duplicated).toBeGreaterThan(150);
    expect(handled).toBeGreaterThan(1000 - failed);
  });

  it('replays exactly from the same seed', async () => {
    // Same seed, same faults, same request times: the same outcomes in the same order.
    const runOnce = async (seed: number) => {
      const clock = new VirtualClock();
      const network = new MemoryNetwork({
        clock,
        random: new Random(seed),
        latency: { minMs: 1, maxMs: 20 },
        dropRate: 0.2,
      });
      network.register('b', echo);
      const log: string[] = [];
      await clock.run(
        Promise.all(
          Array.from({ length: 50 }, async (_, index) => {
            const result = await outcome(network.transport('a').request('b', read, { timeoutMs: 30 }));
            log.push(`${index}:${result}@${clock.now().toFixed(3)}`);
          }),
        ),
      );
      return log;
    };
    expect(await runOnce(9)).toEqual(await runOnce(9));
    expect(await runOnce(9)).not.toEqual(await runOnce(10));
  });
});
