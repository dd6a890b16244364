import { writeFileSync } from 'node:fs';
import { seededRandom, waitFor } from '@sysdesign/testkit';
import {
  type CheckResult,
  checkConvergence,
  checkNoLostWrites,
  type FaultAction,
  type FaultRecord,
  History,
  Nemesis,
  pairOperations,
  renderReport,
  toFaultRecords,
} from '@sysdesign/testkit/faults';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Clients,
  checkReadsSeeAcknowledgedWrites,
  READ,
  readAllAtRN,
  readEveryReplica,
  WRITES_PER_KEY,
  waitReplicasAgree,
} from './lab-clients.js';
import {
  everyoneSeesEveryoneAlive,
  LAB_TIMERS,
  type Lab,
  metricTotal,
  NODE_NAMES,
  REPLICATION,
  startLab,
  waitHintsHandedOff,
} from './lab-cluster.js';

/**
 * The KV store under the fault lab: five nodes as real processes, N=3 W=2 R=2, every peer link
 * through a loopback proxy, ten clients writing blind (so every stored value must survive as a
 * sibling) while a seeded nemesis partitions the cluster (a majority against a minority, and one
 * way: a node that hears no one while the others still hear it), pauses a node past the
 * suspicion timeout (SIGSTOP), and kills one with SIGKILL mid-write and restarts it on its data;
 * one node runs with its clock off by minutes the whole time. Then everything heals, hints are
 * handed off, every key is read at R=N (read repair), and from each replica's own store.
 *
 * Claims: no acknowledged write is lost (W + R > N), every replica of a key ends with the same
 * sibling set, and with strict quorum every read sees the writes acknowledged before it began
 * (with sloppy quorum such stale reads are counted and reported). The same schedule runs with
 * sloppy quorum on and off. FAULT_SEED replays a run,
 * FAULT_SECONDS stretches the nemesis, FAULT_REPORT names a file for the markdown reports.
 */

const SEED = Number(process.env.FAULT_SEED ?? 22);
const NEMESIS_MS = process.env.FAULT_SECONDS ? Number(process.env.FAULT_SECONDS) * 1_000 : 24_000;
const WRITERS = 10;
const READERS = 5;
/** Hand-off of a long outage's hints runs in rounds: the wait fails only when it stops progressing. */
const HANDOFF_STALL_MS = 20_000;
/** At least this long for the replicas to agree, and longer for the many keys of a long run. */
const CONVERGENCE_TIMEOUT_MS = 30_000;
const CONVERGENCE_MS_PER_KEY = 20;
/** Anomalies of one checker shown in a report (all are counted): a long sloppy run has thousands. */
const ANOMALIES_SHOWN = 10;
const TEST_TIMEOUT_MS = 240_000 + NEMESIS_MS * 2;

/** The time a killed node takes to start again, shown as a fault of its own. */
const RESTARTING = 'restarting after kill';

/** Reported with sloppy quorum on, a claim with it off. */
const READS_CHECKER = 'reads see acknowledged writes';

type Fault = 'majority-minority' | 'one-way' | 'pause' | 'kill';

const reports: string[] = [];
afterAll(() => {
  if (process.env.FAULT_REPORT && reports.length > 0)
    writeFileSync(process.env.FAULT_REPORT, reports.join('\n'));
});

/** The skewed node and its offset, from the seed: 30 s to 5 min ahead or behind. */
function skewOf(seed: number): { node: string; offsetMs: number } {
  const random = seededRandom(seed + 1);
  const node = NODE_NAMES[Math.floor(random() * NODE_NAMES.length)] as string;
  const sign = random() < 0.5 ? -1 : 1;
  return { node, offsetMs: sign * (30_000 + Math.floor(random() * 270_000)) };
}

function nemesisFor(seed: number): Nemesis<Fault> {
  const suspectMs = LAB_TIMERS.GOSSIP_SUSPECT_AFTER_MS;
  return new Nemesis<Fault>({
    seed,
    durationMs: NEMESIS_MS,
    menu: [
      { fault: 'majority-minority', weight: 1 },
      { fault: 'one-way', weight: 1 },
      // Past the suspicion timeout: the others call it down, and it wakes believing no time passed.
      { fault: 'pause', weight: 1, durationMs: { minMs: suspectMs + 500, maxMs: suspectMs * 3 } },
      // How long it stays down before the restart (which itself takes seconds).
      { fault: 'kill', weight: 1, durationMs: { minMs: 200, maxMs: 1_500 } },
    ],
    targets: NODE_NAMES,
    faultDurationMs: { minMs: 2_000, maxMs: 4_000 },
    gapMs: { minMs: 1_000, maxMs: 2_000 },
    quiesceMs: 2_000,
  });
}

/** The target and the node after it: the minority of a majority/minority split. */
function minorityOf(target: string): string[] {
  const index = NODE_NAMES.indexOf(target as (typeof NODE_NAMES)[number]);
  return [target, NODE_NAMES[(index + 1) % NODE_NAMES.length] as string];
}

function othersThan(names: readonly string[]): string[] {
  return NODE_NAMES.filter((name) => !names.includes(name));
}

/** What a fault hit, as the report shows it. */
function describeTarget(fault: string, target: string): string {
  if (fault === 'majority-minority') return `{${minorityOf(target)}} | {${othersThan(minorityOf(target))}}`;
  if (fault === 'one-way') return `{${othersThan([target])}} -/-> ${target} (it hears no one)`;
  return target;
}

/**
 * Restarts after a kill run in the background: the nemesis heals a kill by spawning the node
 * again, and the seconds tsx takes to start it are part of the outage, not a delay of the next
 * fault. A fault on a node waits for its restart; the final heal waits for them all.
 */
class Restarts {
  private readonly pending = new Map<string, Promise<void>>();
  /** Each restart that completed, as a fault of its own in the report: the node is still down. */
  readonly records: FaultRecord[] = [];
  /** `Date.now()` at the nemesis run's start, which fault times count from. */
  private readonly originMs = Date.now();

  begin(name: string, start: () => Promise<void>): void {
    const startMs = Date.now() - this.originMs;
    const restart = start().then(() => {
      this.records.push({ kind: RESTARTING, target: name, startMs, endMs: Date.now() - this.originMs });
    });
    // Observed by `settle`; this keeps a failure from being an unhandled rejection meanwhile.
    restart.catch(() => undefined);
    this.pending.set(name, restart);
  }

  async settle(name: string): Promise<void> {
    const restart = this.pending.get(name);
    this.pending.delete(name);
    await restart;
  }

  async settleAll(): Promise<void> {
    await Promise.all([...this.pending.keys()].map((name) => this.settle(name)));
  }
}

function faultActions(lab: Lab, restarts: Restarts): Record<Fault, FaultAction<Fault>> {
  const { network } = lab;
  return {
    'majority-minority': (target) => {
      network.partition([minorityOf(target), othersThan(minorityOf(target))]);
      return () => network.heal();
    },
    'one-way': (target) => {
      for (const other of othersThan([target])) network.oneWay(other, target);
      return () => network.heal();
    },
    pause: async (target) => {
      await restarts.settle(target);
      lab.node(target).process.pause();
      return () => lab.node(target).process.resume();
    },
    kill: async (target) => {
      await restarts.settle(target);
      await lab.node(target).process.kill();
      return () => restarts.begin(target, () => lab.node(target).process.start());
    },
  };
}

async function healEverything(lab: Lab, restarts: Restarts): Promise<void> {
  lab.network.heal();
  await restarts.settleAll();
  for (const node of lab.nodes) if (node.process.paused) node.process.resume();
  await Promise.all(lab.nodes.filter((node) => !node.process.running).map((node) => node.process.start()));
}

interface RunFacts {
  faults: FaultRecord[];
  history: History;
  results: Record<string, CheckResult>;
  convergedAfterMs: number | undefined;
  keys: number;
  /** When the clients stopped, on the history's clock. */
  runEndMs: number;
  handedOff: number;
  readRepairs: number;
}

async function sumOverNodes(lab: Lab, metric: string, labels?: string): Promise<number> {
  const totals = await Promise.all(lab.nodes.map((node) => metricTotal(node, metric, labels)));
  return totals.reduce((sum, total) => sum + total, 0);
}

async function runLab(sloppyQuorum: boolean): Promise<{ facts: RunFacts; nemesis: Nemesis<Fault> }> {
  const skew = skewOf(SEED);
  const lab = await startLab({ seed: SEED, sloppyQuorum, skew });
  await waitFor(() => everyoneSeesEveryoneAlive(lab), 'every node to see the other four alive', {
    timeoutMs: 60_000,
    intervalMs: 200,
  });
  const nemesis = nemesisFor(SEED);
  const history = new History();
  const clients = new Clients(lab, history, { writers: WRITERS, readers: READERS, seed: SEED });
  const running = clients.run();
  let injected: Awaited<ReturnType<typeof nemesis.run>>;
  const restarts = new Restarts();
  try {
    injected = await nemesis.run(faultActions(lab, restarts), {
      healAll: () => healEverything(lab, restarts),
      actionTimeoutMs: 120_000,
    });
  } finally {
    clients.stop();
    await running;
  }
  const runEndMs = history.events().at(-1)?.timeMs ?? 0;
  const faults = [
    ...toFaultRecords(injected).map((fault) => ({
      ...fault,
      target: describeTarget(fault.kind, fault.target),
    })),
    ...restarts.records,
  ].sort((first, second) => first.startMs - second.startMs);
  faults.push({
    kind: 'clock skew',
    target: `${skew.node} ${skew.offsetMs > 0 ? '+' : ''}${skew.offsetMs} ms`,
    startMs: 0,
  });
  try {
    return { nemesis, facts: await settleAndCheck(lab, history, clients, { faults, runEndMs }) };
  } catch (error) {
    // A heal that never completes still leaves a report: the faults and the history so far.
    const partial = renderReport({
      title: 'KV store lab, stopped before the checks',
      seed: SEED,
      faults,
      history: history.events(),
      results: {},
    });
    reports.push(partial);
    throw new Error(`${(error as Error).message}\n${nemesis.describe()}\n\n${partial}`, { cause: error });
  }
}

/** After the nemesis: the heal, the reads, the waits for hand-off and agreement, the checkers. */
async function settleAndCheck(
  lab: Lab,
  history: History,
  clients: Clients,
  run: { faults: FaultRecord[]; runEndMs: number },
): Promise<RunFacts> {
  await waitFor(
    () => everyoneSeesEveryoneAlive(lab),
    'every node to see the other four alive after the heal',
    {
      timeoutMs: 60_000,
      intervalMs: 200,
    },
  );
  // Read at once, while replicas may still be stale (read repair at work, stale reads counted);
  // then hand-off and anti-entropy; then the final reads, at R=N and from each replica.
  const keys = clients.keys();
  await readAllAtRN(lab, history, keys, READ);
  await waitHintsHandedOff(lab, HANDOFF_STALL_MS);
  const convergedAfterMs = await waitReplicasAgree(lab, keys, convergenceTimeoutMs(keys.length));
  await readAllAtRN(lab, history, keys);
  await readEveryReplica(lab, history, keys);
  const events = history.events();
  return {
    faults: run.faults,
    history,
    results: {
      'no lost writes': checkNoLostWrites(events),
      convergence: checkConvergence(events),
      [READS_CHECKER]: checkReadsSeeAcknowledgedWrites(events),
    },
    convergedAfterMs,
    keys: keys.length,
    runEndMs: run.runEndMs,
    handedOff: await sumOverNodes(lab, 'kv_hints_handed_off_total'),
    readRepairs: await sumOverNodes(lab, 'kv_read_repairs_total', 'result="sent"'),
  };
}

/**
 * Operations by the fault active when they were invoked (times from the run's start; the history
 * and the nemesis start within a few ms of each other): what each fault costs in availability.
 */
function availabilitySection(facts: RunFacts): string {
  const staleReads = new Set(
    (facts.results[READS_CHECKER]?.anomalies ?? []).flatMap((anomaly) =>
      anomaly.excerpt
        .filter((event) => event.f === READ && event.type === 'invoke')
        .map((event) => event.index),
    ),
  );
  const rows = new Map<string, Record<string, number>>();
  const count = (row: Record<string, number>, column: string) => {
    row[column] = (row[column] ?? 0) + 1;
  };
  for (const operation of pairOperations(facts.history.events())) {
    const { f, timeMs, index } = operation.invoke;
    if (f !== 'write' && f !== READ) continue;
    const within = (fault: FaultRecord) =>
      fault.endMs !== undefined && fault.startMs <= timeMs && timeMs < fault.endMs;
    // A restart overlaps the next faults: its node's clients are refused whatever else happens.
    const active =
      facts.faults.find((fault) => fault.kind === RESTARTING && within(fault)) ?? facts.faults.find(within);
    // Reads after the run (before hand-off) are counted apart from the run's.
    const kind = timeMs > facts.runEndMs ? 'after the heal' : (active?.kind ?? 'none');
    const row = rows.get(kind) ?? {};
    count(row, `${f} ${operation.complete?.type ?? 'pending'}`);
    if (staleReads.has(index)) count(row, 'stale reads');
    rows.set(kind, row);
  }
  const columns = ['write ok', 'write fail', 'write unknown', 'read ok', 'read fail', 'stale reads'];
  const lines = [...rows].map(
    ([kind, row]) => `| ${kind} | ${columns.map((column) => row[column] ?? 0).join(' | ')} |`,
  );
  return [
    '## Availability by fault',
    '',
    `| active fault | ${columns.join(' | ')} |`,
    `| --- |${' ---: |'.repeat(columns.length)}`,
    ...lines,
  ].join('\n');
}

function convergenceTimeoutMs(keys: number): number {
  return Math.max(CONVERGENCE_TIMEOUT_MS, keys * CONVERGENCE_MS_PER_KEY);
}

function reportOf(sloppyQuorum: boolean, facts: RunFacts): string {
  const report = renderReport({
    title: `KV store, 5 processes, N=${REPLICATION.n} W=${REPLICATION.w} R=${REPLICATION.r}, sloppy quorum ${sloppyQuorum ? 'on' : 'off'}`,
    seed: SEED,
    faults: facts.faults,
    history: facts.history.events(),
    results: facts.results,
    anomaliesShownMax: ANOMALIES_SHOWN,
  });
  const after = [
    availabilitySection(facts),
    '',
    '## After the heal',
    '',
    `- keys: ${facts.keys} (${WRITES_PER_KEY} blind writes each), ${WRITERS} writers and ${READERS} readers, one node each in turn`,
    `- replicas agreed ${facts.convergedAfterMs === undefined ? `not within ${convergenceTimeoutMs(facts.keys)} ms` : `${facts.convergedAfterMs} ms after hand-off`}`,
    `- hints handed off over the run: ${facts.handedOff}; read repairs sent: ${facts.readRepairs}`,
    '',
  ].join('\n');
  return `${report}\n${after}`;
}

describe('the kv store under partitions, pauses, kill -9 and a skewed clock', () => {
  for (const sloppyQuorum of [true, false]) {
    it(
      `loses no acknowledged write and converges every replica, sloppy quorum ${sloppyQuorum ? 'on' : 'off'}`,
      async () => {
        const { facts, nemesis } = await runLab(sloppyQuorum);
        const report = reportOf(sloppyQuorum, facts);
        reports.push(report);
        const failure = `${nemesis.describe()}\n\n${report}`;
        for (const [checker, result] of Object.entries(facts.results)) {
          // Sloppy quorum gives up R + W > N for availability: its stale reads are reported, not refused.
          if (sloppyQuorum && checker === READS_CHECKER) continue;
          expect(result.anomalies, `${checker}\n${failure}`).toEqual([]);
        }
        expect(facts.convergedAfterMs, failure).toBeDefined();
        const acknowledged = facts.history
          .events()
          .filter((event) => event.f === 'write' && event.type === 'ok');
        expect(acknowledged.length, failure).toBeGreaterThan(100);
        expect(facts.faults.length, failure).toBeGreaterThan(1);
      },
      TEST_TIMEOUT_MS,
    );
  }
});
