import { describeWith, postgresBackend, seededRandom, waitFor } from '@sysdesign/testkit';
import {
  appendReport,
  type CheckResult,
  type FaultRecord,
  faultRunSettings,
  History,
  type HistoryEvent,
  inRounds,
  pairOperations,
  type Round,
  renderReport,
  roundsTimeoutMs,
  shareStretch,
} from '@sysdesign/testkit/faults';
import { describe, expect, it, onTestFailed, onTestFinished } from 'vitest';
import {
  createDatabase,
  createIdNode,
  type IdNode,
  mint,
  removeData,
  respawn,
  timeOf,
  workerIdOf,
} from './id-node.js';
import { checkUniqueIds, mintFunction } from './unique-ids.js';

/**
 * The id-generator under the faults its design names: a node restarted on a clock set back past
 * its last id, and nodes stopped (SIGSTOP) past their worker-id lease while another takes it.
 * Each is a scenario: FAULT_SEED picks the skew, the pause, the batch sizes; FAULT_SECONDS repeats
 * each scenario in rounds (seed + round) for half that time, all rounds in one history and one
 * report, which FAULT_REPORT names a file for. On failure the seed and the history are printed.
 */

/** The file's FAULT_SECONDS is shared by its two scenarios, half each. */
const SETTINGS = shareStretch(faultRunSettings(), 2);
const LEASE_TTL_MS = 1_000;
const REQUEST_TIMEOUT_MS = 15_000;
/** The longest one round of either scenario may take, on two shared cores under other load. */
const ROUND_TIMEOUT_MS = 150_000;
/** The third life's MAX_CLOCK_ROLLBACK_MS, the largest the config allows: it waits, never refuses. */
const THIRD_LIFE_ROLLBACK_MS = 10_000;
/** Starts of the third life before its clock is still behind once ready. */
const THIRD_LIFE_ATTEMPTS = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One history for every round of a scenario: each round's clients and nodes are named under its
 * prefix (`r0.`, `r1.`...), and each round is checked on its own (a new round starts from fresh
 * data, so only ids within a round are claimed unique).
 */
class RoundsRun {
  readonly history = new History();
  readonly faults: FaultRecord[] = [];
  private readonly rounds: Round[] = [];
  private readonly startedAtMs = performance.now();

  constructor(readonly title: string) {
    const print = () => console.error(this.report());
    onTestFailed(print);
    onTestFinished(() => appendReport(SETTINGS, this.report()));
  }

  /** Starts a round; returns its name prefix. */
  begin(round: Round): string {
    this.rounds.push(round);
    return prefixOf(round);
  }

  /** Milliseconds since the run started, as the history counts them (it starts with the run). */
  elapsedMs(): number {
    return performance.now() - this.startedAtMs;
  }

  roundEvents(round: Round): HistoryEvent[] {
    const prefix = prefixOf(round);
    return this.history.events().filter((event) => event.process.startsWith(prefix));
  }

  report(): string {
    const results: Record<string, CheckResult> = {};
    for (const round of this.rounds)
      results[`unique ids, round ${round.index} (seed ${round.seed})`] = checkUniqueIds(
        this.roundEvents(round),
      );
    return renderReport({
      title: `${this.title}, ${this.rounds.length} round${this.rounds.length === 1 ? '' : 's'}`,
      seed: SETTINGS.seed,
      faults: this.faults,
      history: this.history.events(),
      results,
    });
  }
}

const prefixOf = (round: Round) => `r${round.index}.`;

function okIds(events: readonly HistoryEvent[], node: string): string[] {
  return pairOperations(events)
    .filter((operation) => operation.invoke.node === node && operation.complete?.type === 'ok')
    .flatMap((operation) => operation.complete?.value as string[]);
}

const maxOf = (ids: readonly string[]) => ids.reduce((max, id) => (BigInt(id) > BigInt(max) ? id : max));

describe('a node restarted with its clock set back', () => {
  it(
    'refuses with 503 and Retry-After beyond MAX_CLOCK_ROLLBACK_MS, waits within it, and never issues an older or duplicate id',
    async () => {
      const run = new RoundsRun('id-generator: clock set back');
      await inRounds(SETTINGS, (round) => clockSetBackRound(run, round));
    },
    roundsTimeoutMs(SETTINGS, ROUND_TIMEOUT_MS),
  );
});

async function clockSetBackRound(run: RoundsRun, round: Round): Promise<void> {
  const prefix = run.begin(round);
  const { history } = run;
  const random = seededRandom(round.seed);
  const client = `${prefix}c1`;
  // How far behind its last id the second life's clock is once it is ready: a restart takes
  // seconds on a loaded machine, so its offset also covers twice the first start's measured time.
  const secondBehindMs = 8_000 + Math.floor(random() * 1_500);
  // How far behind the third life's clock is when it is spawned: within MAX_CLOCK_ROLLBACK_MS,
  // whose largest value is 10 s, so that it waits rather than refuses.
  const thirdBehindMs = 8_500 + Math.floor(random() * 1_000);
  let node: IdNode = await createIdNode(`${prefix}n1`, {
    WORKER_ID: '3',
    WORKER_LEASE_TTL_MS: String(LEASE_TTL_MS),
  });
  const timedStart = async () => {
    const startedMs = performance.now();
    await node.process.start();
    return performance.now() - startedMs;
  };
  try {
    const firstStartMs = await timedStart();
    for (let batch = 0; batch < 20; batch++)
      await mint(history, client, node, 1 + Math.floor(random() * 50), 5_000);
    const firstLife = okIds(history.events(), node.name);
    await node.process.stop();

    // Second life, far behind its last id with a 100 ms bound: refused until its clock catches up.
    const offsetMs = Math.round(timeOf(maxOf(firstLife)) - Date.now() - secondBehindMs - 2 * firstStartMs);
    node = respawn(node, { SYSDESIGN_CLOCK_OFFSET_MS: String(offsetMs), MAX_CLOCK_ROLLBACK_MS: '100' });
    const second: FaultRecord = {
      kind: 'clock set back',
      target: `${node.name}, second life, ${offsetMs} ms`,
      startMs: run.elapsedMs(),
    };
    run.faults.push(second);
    await node.process.start();
    const refused = await mint(history, client, node, 10, REQUEST_TIMEOUT_MS);
    expect(refused).toMatchObject({ status: 503, code: 'ERR_ID_CLOCK_MOVED_BACKWARDS' });
    expect(Number(refused?.retryAfter)).toBeGreaterThanOrEqual(1);
    let issued: string[] = [];
    await waitFor(
      async () => {
        issued = (await mint(history, client, node, 10, REQUEST_TIMEOUT_MS))?.ids ?? [];
        return issued.length > 0;
      },
      'the skewed node to issue ids once its clock is past its last id',
      { timeoutMs: secondBehindMs + 2 * firstStartMs + 10_000, intervalMs: 250 },
    );
    expect(BigInt(issued[0]!)).toBeGreaterThan(BigInt(maxOf(firstLife)));
    await node.process.stop();
    second.endMs = run.elapsedMs();

    // Third life, behind again, with a bound that covers the skew: the request waits, then succeeds.
    // A start slower than its skew (a loaded machine) leaves its clock no longer behind once it is
    // ready: it is then restarted with a fresh offset, three attempts at most.
    const lastBeforeMs = timeOf(maxOf(okIds(history.events(), node.name)));
    let behindMs = 0;
    let third: FaultRecord | undefined;
    for (let attempt = 1; attempt <= THIRD_LIFE_ATTEMPTS && behindMs <= 500; attempt++) {
      await node.process.stop();
      const thirdOffsetMs = Math.round(lastBeforeMs - Date.now() - thirdBehindMs);
      node = respawn(node, {
        SYSDESIGN_CLOCK_OFFSET_MS: String(thirdOffsetMs),
        MAX_CLOCK_ROLLBACK_MS: String(THIRD_LIFE_ROLLBACK_MS),
      });
      third = {
        kind: 'clock set back',
        target: `${node.name}, third life${attempt > 1 ? ` (attempt ${attempt})` : ''}, ${thirdOffsetMs} ms`,
        startMs: run.elapsedMs(),
      };
      run.faults.push(third);
      await node.process.start();
      behindMs = lastBeforeMs - (Date.now() + thirdOffsetMs);
    }
    expect(behindMs).toBeGreaterThan(500);
    expect(behindMs).toBeLessThan(THIRD_LIFE_ROLLBACK_MS);
    const startedMs = Date.now();
    const waited = await mint(history, client, node, 10, THIRD_LIFE_ROLLBACK_MS + REQUEST_TIMEOUT_MS);
    expect(waited?.status).toBe(200);
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(behindMs - 500);
    await node.process.stop();
    third!.endMs = run.elapsedMs();
  } finally {
    await node.process.stop();
    await removeData(node);
  }

  // Within the node, ids only grow; across the round's history, none repeats.
  const all = okIds(history.events(), node.name);
  expect(all.every((id, index) => index === 0 || BigInt(id) > BigInt(all[index - 1]!))).toBe(true);
  expect(checkUniqueIds(run.roundEvents(round))).toEqual({ valid: true, anomalies: [] });
}

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
  it(
    'never lets two live nodes issue under one worker id, and the node that lost its lease refuses until it holds one again',
    async () => {
      const run = new RoundsRun('id-generator: paused past the lease');
      await inRounds(SETTINGS, (round) => pausedPastLeaseRound(run, round, url));
    },
    roundsTimeoutMs(SETTINGS, ROUND_TIMEOUT_MS),
  );
});

async function pausedPastLeaseRound(run: RoundsRun, round: Round, adminUrl: string): Promise<void> {
  const prefix = run.begin(round);
  const { history } = run;
  const random = seededRandom(round.seed);
  const database = await createDatabase(adminUrl);
  const env = { DATABASE_URL: database.url, WORKER_ID: 'auto', WORKER_LEASE_TTL_MS: String(LEASE_TTL_MS) };
  const nodes: IdNode[] = [];
  try {
    for (const name of ['n1', 'n2']) {
      const node = await createIdNode(`${prefix}${name}`, env);
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
      target: nodes.map((node) => node.name).join(', '),
      startMs: run.elapsedMs(),
    };
    const claim: FaultRecord = {
      kind: 'worker id claimed',
      target: `${prefix}n3 takes worker ${takenId} of ${loser}`,
      startMs: pause.startMs,
    };
    run.faults.push(pause, claim);
    for (const node of nodes) node.process.pause();
    const taker = await createIdNode(`${prefix}n3`, { ...env, WORKER_ID: String(takenId) });
    await taker.process.start();
    nodes.push(taker);
    clients.add();
    await waitFor(() => okIds(history.events(), taker.name).length > 0, `${taker.name} to issue ids`, {
      timeoutMs: 10_000,
    });
    expect(workerOf(taker.name)).toBe(takenId);
    await sleep(Math.max(0, pauseMs - (performance.now() - pausedAt)));
    const resumedIndex = history.events().length;
    for (const node of nodes.slice(0, 2)) node.process.resume();
    pause.endMs = run.elapsedMs();
    await sleep(1_500 + Math.floor(random() * 1_000));

    // n3 leaves cleanly: the loser may lease its worker id again, above n3's last id. n3 releases
    // its lease before its process exits, so the loser may lease and issue while the stop is
    // still under way: the window in which it must refuse ends where the stop begins.
    const takerStoppedIndex = history.events().length;
    await taker.process.stop();
    claim.endMs = run.elapsedMs();
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
    expect(checkUniqueIds(run.roundEvents(round))).toEqual({ valid: true, anomalies: [] });
  } finally {
    await Promise.all(nodes.map((node) => node.process.stop()));
    await Promise.all(nodes.map((node) => removeData(node)));
    await database.drop();
  }
}
