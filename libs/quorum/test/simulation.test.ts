import { describe, expect, it } from 'vitest';
import { EMPTY_CLOCK, type Version } from '../src/index.js';
import {
  History,
  replayCommand,
  type SimulationOptions,
  type SimulationReport,
  simulate,
} from '../src/testing.js';

const SEEDS = Array.from({ length: 12 }, (_, index) => index + 1);

function failureMessage(report: SimulationReport): string {
  return `seed ${report.seed} failed:\n  ${report.violations.join('\n  ')}\nreplay: ${report.replay}`;
}

async function runAll(variant: Omit<SimulationOptions, 'seed'>): Promise<SimulationReport[]> {
  const reports: SimulationReport[] = [];
  for (const seed of SEEDS) {
    const report = await simulate({ ...variant, seed });
    expect(report.ok, failureMessage(report)).toBe(true);
    reports.push(report);
  }
  return reports;
}

describe('deterministic simulation', () => {
  it('keeps every invariant over 12 seeds of crashes, partitions and message loss (sloppy quorum, N3 R2 W2)', async () => {
    // Each run checks: no acknowledged write lost, none missing after convergence, no phantom
    // value, siblings bounded, convergence after the faults stop. A failure prints its replay command.
    const reports = await runAll({ operations: 120 });
    const total = (pick: (report: SimulationReport) => number) =>
      reports.reduce((sum, report) => sum + pick(report), 0);
    expect(total((report) => report.faults.crashes)).toBeGreaterThan(5);
    expect(total((report) => report.faults.partitions)).toBeGreaterThan(2);
    expect(total((report) => report.writes.acknowledged)).toBeGreaterThan(500);
    expect(reports.every((report) => report.convergence.converged)).toBe(true);
  });

  it('never lets an R+W>N read miss an acknowledged write under strict quorum, faults or not', async () => {
    // Strict quorum turns every stale read into a violation; 12 seeds must produce none.
    const reports = await runAll({ operations: 120, sloppy: false });
    expect(reports.reduce((sum, report) => sum + report.reads.stale, 0)).toBe(0);
  });

  it('sees stale reads when R+W<=N, so the check is not vacuous', async () => {
    // Same workload with R=1, W=1: replicas lag behind acknowledged writes and some reads miss them.
    let stale = 0;
    for (const seed of SEEDS.slice(0, 4)) {
      const report = await simulate({ seed, R: 1, W: 1, operations: 120, faults: false });
      expect(report.ok, failureMessage(report)).toBe(true);
      stale += report.reads.stale;
    }
    expect(stale).toBeGreaterThan(0);
  });

  it('replays a seed exactly, and a different seed differently', async () => {
    // Virtual clock + seeded PRNG: two runs of one seed agree on every number.
    const first = await simulate({ seed: 7, operations: 80 });
    const second = await simulate({ seed: 7, operations: 80 });
    expect(second).toEqual(first);
    const other = await simulate({ seed: 8, operations: 80 });
    expect(other.network).not.toEqual(first.network);
    expect(first.replay).toBe(replayCommand({ seed: 7, operations: 80 }));
    expect(first.replay).toContain('pnpm --filter @sysdesign/quorum run simulate --replay');
  });

  it('passes with every message through the JSON wire codec, as over HTTP', async () => {
    // serialize: true encodes, stringifies, parses and validates every request and response.
    for (const seed of [1, 2]) {
      const report = await simulate({ seed, operations: 80, serialize: true });
      expect(report.ok, failureMessage(report)).toBe(true);
      expect(report.network.bytes).toBeGreaterThan(0);
    }
  });

  it('fails a run whose reads return more siblings than allowed', async () => {
    // maxSiblings 0 is impossible to honour: the run must report it, proving the check can fail.
    const report = await simulate({ seed: 1, operations: 40, faults: false, maxSiblings: 0 });
    expect(report.ok).toBe(false);
    expect(report.violations[0]).toMatch(/returned 1 siblings, more than 0/);
  });
});

describe('history checks', () => {
  const encoder = new TextEncoder();
  const version = (actor: string, counter: number, value: string | null, clock = EMPTY_CLOCK): Version => ({
    dot: { actor, counter, timeMs: 0 },
    clock,
    value: value === null ? null : encoder.encode(value),
  });

  function historyWithOneWrite(): History {
    const history = new History();
    history.noteAttempt('v1');
    history.recordWrite({
      kind: 'put',
      client: 0,
      key: 'k',
      value: 'v1',
      startMs: 0,
      endMs: 10,
      outcome: 'acknowledged',
      dot: { actor: 'a#1', counter: 1, timeMs: 0 },
    });
    return history;
  }

  it('flags a read that started after the acknowledgement and lacks the write', () => {
    // The write finished at t=10; a read at t=11 with nothing is stale; a read at t=5 was concurrent.
    const history = historyWithOneWrite();
    expect(history.check('k', 11, []).missing).toHaveLength(1);
    expect(history.check('k', 5, []).missing).toHaveLength(0);
  });

  it('accepts the write itself, or a version whose clock covers its dot', () => {
    // A later write by a client that read v1 supersedes it; a concurrent one does not.
    const history = historyWithOneWrite();
    expect(history.check('k', 11, [version('a#1', 1, 'v1')]).missing).toHaveLength(0);
    const successor = version('b#1', 1, null, [{ actor: 'a#1', counter: 1, timeMs: 0 }]);
    expect(history.check('k', 11, [successor]).missing).toHaveLength(0);
    expect(history.check('k', 11, [version('b#1', 1, null)]).missing).toHaveLength(1);
  });

  it('flags values nobody wrote, and a dot holding another write’s value', () => {
    // Corruption or a mix-up between versions must not pass as a sibling.
    const history = historyWithOneWrite();
    expect(
      history.check('k', 11, [version('a#1', 1, 'v1'), version('z#1', 1, 'never written')]).phantoms,
    ).toEqual(['never written']);
    history.noteAttempt('v2');
    expect(history.check('k', 11, [version('a#1', 1, 'v2')]).phantoms[0]).toMatch(/holds v2 instead of v1/);
  });
});
