import { describeWith, postgresBackend, seededRandom, waitFor } from '@sysdesign/testkit';
import {
  type FaultRecord,
  History,
  type HistoryEvent,
  pairOperations,
  renderReport,
} from '@sysdesign/testkit/faults';
import { describe, expect, it, onTestFailed, onTestFinished } from 'vitest';
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

/**
 * The seed, the faults, the operations by outcome and the checker's verdict: printed on failure,
 * and after every run with FAULT_REPORT=1 (how the README's table of runs was made).
 */
function reportOnFailure(title: string, history: History, faults: readonly FaultRecord[]) {
  const print = () =>
    console.error(
      renderReport({
        title,
        seed: SEED,
        faults,
        history: history.events(),
        results: { 'unique ids': checkUniqueIds(history.events()) },
      }),
    );
  onTestFailed(print);
  if (process.env.FAULT_REPORT === '1') onTestFinished(print);
}

function okIds(events: readonly HistoryEvent[], node: string): string[] {
  return pairOperations(events)
    .filter((operation) => operation.invoke.node === node && operation.complete?.type === 'ok')
    .flatMap((operation) => operation.complete?.value as string[]);
}

const maxOf = (ids: readonly string[]) => ids.reduce((max, id) => (BigInt(id) > BigInt(max) ? id : max));

/**
 * `node` started again with its clock set `behindMs` behind `lastIdMs`. The offset is taken just
 * before the start and the start takes seconds on a loaded machine, so the clock may have caught
 * up by the time the node answers: then it is started again further back (the arrangement is
 * retried, never the assertion), until at least `minBehindMs` is left to test.
 */
async function startBehind(
  node: IdNode,
  lastIdMs: number,
  behindMs: number,
  minBehindMs: number,
  env: Record<string, string>,
): Promise<{ node: IdNode; offsetMs: number }> {
  let extraMs = 0;
  for (let attempt = 1; ; attempt++) {
    const offsetMs = lastIdMs - Date.now() - behindMs - extraMs;
    const started = respawn(node, { ...env, SYSDESIGN_CLOCK_OFFSET_MS: String(offsetMs) });
    await started.process.start();
    const leftMs = lastIdMs - (Date.now() + offsetMs);
    if (leftMs >= minBehindMs) return { node: started, offsetMs };
    await started.process.stop();
    if (attempt === 3) throw new Error(`the node took too long to start: ${leftMs} ms of skew left`);
    extraMs += minBehindMs - leftMs;
  }
}

describe('a node restarted with its clock set back', () => {
  it('refuses with 503 and Retry-After beyond MAX_CLOCK_ROLLBACK_MS, waits within it, and never issues an older or duplicate id', async () => {
    const random = seededRandom(SEED);
    const history = new History();
    const secondBehindMs = 8_000 + Math.floor(random() * 1_500);
    // The third life starts this far behind the second's last id (which reached its own clock).
    const thirdBehindMs = 6_000 + Math.floor(random() * 1_000);
    const faults: FaultRecord[] = [];
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
    const second = await startBehind(node, timeOf(maxOf(firstLife)), secondBehindMs, 2_000, {
      MAX_CLOCK_ROLLBACK_MS: '100',
    });
    node = second.node;
    faults.push({ kind: `clock offset ${second.offsetMs} ms`, target: 'n1, second life', startMs: 0 });
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
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(BigInt(issued[0]!)).toBeGreaterThan(BigInt(maxOf(firstLife)));
    await node.process.stop();

    // Third life, behind again, with a bound that covers the skew: the request waits, then succeeds.
    const lastBeforeMs = timeOf(maxOf(okIds(history.events(), 'n1')));
    const third = await startBehind(node, lastBeforeMs, thirdBehindMs, 1_500, {
      MAX_CLOCK_ROLLBACK_MS: '10000',
    });
    node = third.node;
    faults.push({ kind: `clock offset ${third.offsetMs} ms`, target: 'n1, third life', startMs: 0 });
    const behindMs = lastBeforeMs - (Date.now() + third.offsetMs);
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
  }, 180_000);
});

/** Clients minting on `nodes` until `stop()`: two per node, one request in flight each. */
function startClients(history: History, nodes: () => readonly IdNode[], random: () => number) {
  let running = true;
  const loops: Promise<void>[] = [];
  const clientLoop = async (client: string, node: IdNode) => {
    while (running && node.process.running) {
      await mint(history, client, node, 1 + Math.floor(random() * 20), REQUEST_TIMEOUT_MS);
      await sleep(10);
    }
  };
  const started = new Set<string>();
  const add = () => {
    for (const node of nodes()) {
      for (const client of [`${node.name}-a`, `${node.name}-b`]) {
        if (started.has(client)) continue;
        started.add(client);
        loops.push(clientLoop(client, node));
      }
    }
  };
  add();
  return {
    add,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Ok mints of `node` invoked after event `fromIndex` and completed before event `toIndex`. */
function mintsBetween(events: readonly HistoryEvent[], node: string, fromIndex: number, toIndex: number) {
  return pairOperations(events).filter(
    (operation) =>
      operation.invoke.f === mintFunction &&
      operation.invoke.node === node &&
      operation.invoke.index > fromIndex &&
      operation.complete !== undefined &&
      operation.complete.index < toIndex,
  );
}

describeWith(await postgresBackend(), 'nodes paused past their worker-id lease', ({ url }) => {
  it('never lets two live nodes issue under one worker id, and the node that lost its lease refuses until it holds one again', async () => {
    const random = seededRandom(SEED);
    const history = new History();
    const faults: FaultRecord[] = [];
    const runStartedAt = performance.now();
    reportOnFailure('id-generator: paused past the lease', history, faults);
    const database = await createDatabase(url);
    const env = { DATABASE_URL: database.url, WORKER_ID: 'auto', WORKER_LEASE_TTL_MS: String(LEASE_TTL_MS) };
    const nodes: IdNode[] = [];
    try {
      for (const name of ['n1', 'n2']) {
        const node = await createIdNode(name, env);
        await node.process.start();
        nodes.push(node);
      }
      const clients = startClients(history, () => nodes, random);
      await sleep(1_000);
      const workerOf = (name: string) => workerIdOf(okIds(history.events(), name).at(-1)!);
      const held = new Map(nodes.map((node) => [node.name, workerOf(node.name)]));

      // Both stop past their TTL; meanwhile a third node claims the worker id the seed picks of theirs.
      const loser = nodes[Math.floor(random() * nodes.length)]!.name;
      const takenId = held.get(loser)!;
      const pauseMs = 3 * LEASE_TTL_MS + Math.floor(random() * LEASE_TTL_MS);
      const pausedAt = performance.now();
      const pause: FaultRecord = {
        kind: 'pause (SIGSTOP)',
        target: 'n1, n2',
        startMs: pausedAt - runStartedAt,
      };
      const claim: FaultRecord = {
        kind: `worker id ${takenId} claimed`,
        target: 'n3',
        startMs: pause.startMs,
      };
      faults.push(pause, claim);
      for (const node of nodes) node.process.pause();
      const taker = await createIdNode('n3', { ...env, WORKER_ID: String(takenId) });
      await taker.process.start();
      nodes.push(taker);
      clients.add();
      await waitFor(() => okIds(history.events(), 'n3').length > 0, 'n3 to issue ids', { timeoutMs: 10_000 });
      expect(workerOf('n3')).toBe(takenId);
      await sleep(Math.max(0, pauseMs - (performance.now() - pausedAt)));
      const resumedIndex = history.events().length;
      for (const node of nodes.slice(0, 2)) node.process.resume();
      pause.endMs = performance.now() - runStartedAt;
      await sleep(1_500 + Math.floor(random() * 1_000));

      // n3 leaves cleanly: the loser may lease its worker id again, above n3's last id. n3 releases
      // its lease before its process exits, so the loser may lease and issue while the stop is
      // still under way: the window in which it must refuse ends where the stop begins.
      const takerStoppedIndex = history.events().length;
      await taker.process.stop();
      claim.endMs = performance.now() - runStartedAt;
      const loserNode = nodes.find((node) => node.name === loser)!;
      await loserNode.process.waitReady();
      await sleep(1_000);
      await clients.stop();

      const whileLost = mintsBetween(history.events(), loser, resumedIndex, takerStoppedIndex);
      expect(whileLost.filter((operation) => operation.complete?.type === 'ok')).toEqual([]);
      expect(whileLost.length).toBeGreaterThan(0);
      for (const operation of whileLost)
        expect(operation.complete?.value).toMatchObject({
          status: 503,
          code: 'ERR_ID_GENERATOR_UNAVAILABLE',
        });
      const after = mintsBetween(history.events(), loser, takerStoppedIndex, history.events().length);
      expect(after.some((operation) => operation.complete?.type === 'ok')).toBe(true);
      expect(workerOf(loser)).toBe(takenId);
      expect(checkUniqueIds(history.events())).toEqual({ valid: true, anomalies: [] });
    } finally {
      await Promise.all(nodes.map((node) => node.process.stop()));
      await database.drop();
    }
  }, 90_000);
});
