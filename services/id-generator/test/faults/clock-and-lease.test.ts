import { describeWith, postgresBackend, seededRandom, waitFor } from '@sysdesign/testkit';
import {
  type FaultRecord,
  History,
  type HistoryEvent,
  pairOperations,
  renderReport,
} from '@sysdesign/testkit/faults';
import { describe, expect, it, onTestFailed } from 'vitest';
import { createDatabase, createIdNode, type IdNode, mint, respawn, timeOf, workerIdOf } from './id-node.js';
import { checkUniqueIds, mintFunction } from './unique-ids.js';

/**
 * The id-generator under the faults its design names: a node restarted on a clock set back past
 * its last id, and nodes stopped (SIGSTOP) past their worker-id lease while another takes it.
 * SEED picks the skew, the pause, the batch sizes; on failure the seed and history are printed.
 */

const SEED = Number(process.env.FAULT_SEED ?? 22);
const LEASE_TTL_MS = 1_000;
const REQUEST_TIMEOUT_MS = 15_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** On failure, the seed, the faults, the operations by outcome and the checker's verdict. */
function reportOnFailure(title: string, history: History, faults: readonly FaultRecord[]) {
  onTestFailed(() => {
    console.error(
      renderReport({
        title,
        seed: SEED,
        faults,
        history: history.events(),
        results: { 'unique ids': checkUniqueIds(history.events()) },
      }),
    );
  });
}

function okIds(events: readonly HistoryEvent[], node: string): string[] {
  return pairOperations(events)
    .filter((operation) => operation.invoke.node === node && operation.complete?.type === 'ok')
    .flatMap((operation) => operation.complete?.value as string[]);
}

const maxOf = (ids: readonly string[]) => ids.reduce((max, id) => (BigInt(id) > BigInt(max) ? id : max));

describe('a node restarted with its clock set back', () => {
  it('refuses with 503 and Retry-After beyond MAX_CLOCK_ROLLBACK_MS, waits within it, and never issues an older or duplicate id', async () => {
    const random = seededRandom(SEED);
    const history = new History();
    const offsetMs = -(8_000 + Math.floor(random() * 1_500));
    // The third life starts this much further back than the second, whose ids reached its own clock.
    const thirdOffsetMs = offsetMs - (6_000 + Math.floor(random() * 1_000));
    const faults: FaultRecord[] = [
      { kind: `clock offset ${offsetMs} ms`, target: 'n1, second life', startMs: 0 },
      { kind: `clock offset ${thirdOffsetMs} ms`, target: 'n1, third life', startMs: 0 },
    ];
    reportOnFailure('id-generator: clock set back', history, faults);
    let node: IdNode = await createIdNode('n1', {
      WORKER_ID: '3',
      WORKER_LEASE_TTL_MS: String(LEASE_TTL_MS),
    });
    await node.process.start();
    for (let batch = 0; batch < 20; batch++)
      await mint(history, 'c1', node, 1 + Math.floor(random() * 50), 5_000);
    const firstLife = okIds(history.events(), 'n1');
    await node.process.stop();

    // Second life, far behind its last id with a 100 ms bound: refused until its clock catches up.
    node = respawn(node, { SYSDESIGN_CLOCK_OFFSET_MS: String(offsetMs), MAX_CLOCK_ROLLBACK_MS: '100' });
    await node.process.start();
    const refused = await mint(history, 'c1', node, 10, REQUEST_TIMEOUT_MS);
    expect(refused).toMatchObject({ status: 503, code: 'ERR_ID_CLOCK_MOVED_BACKWARDS' });
    expect(Number(refused?.retryAfter)).toBeGreaterThanOrEqual(1);
    let issued: string[] = [];
    await waitFor(
      async () => {
        issued = (await mint(history, 'c1', node, 10, REQUEST_TIMEOUT_MS))?.ids ?? [];
        return issued.length > 0;
      },
      'the skewed node to issue ids once its clock is past its last id',
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    expect(BigInt(issued[0]!)).toBeGreaterThan(BigInt(maxOf(firstLife)));
    await node.process.stop();

    // Third life, behind again, with a bound that covers the skew: the request waits, then succeeds.
    const lastBeforeMs = timeOf(maxOf(okIds(history.events(), 'n1')));
    node = respawn(node, {
      SYSDESIGN_CLOCK_OFFSET_MS: String(thirdOffsetMs),
      MAX_CLOCK_ROLLBACK_MS: '10000',
    });
    await node.process.start();
    const behindMs = lastBeforeMs - (Date.now() + thirdOffsetMs);
    expect(behindMs).toBeGreaterThan(500);
    const startedMs = Date.now();
    const waited = await mint(history, 'c1', node, 10, REQUEST_TIMEOUT_MS);
    expect(waited?.status).toBe(200);
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(behindMs - 500);
    await node.process.stop();

    // Within each node, ids only grow; across the whole history, none repeats.
    const all = okIds(history.events(), 'n1');
    expect(all.every((id, index) => index === 0 || BigInt(id) > BigInt(all[index - 1]!))).toBe(true);
    expect(checkUniqueIds(history.events())).toEqual({ valid: true, anomalies: [] });
  }, 90_000);
});
