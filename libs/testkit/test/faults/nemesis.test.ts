import { describe, expect, it } from 'vitest';
import { type FaultKind, Nemesis, type NemesisOptions, planSchedule } from '../../src/faults/nemesis.js';

type Fault = 'pause' | 'kill' | 'partition';

const menu: FaultKind<Fault>[] = [
  { fault: 'pause', weight: 3 },
  { fault: 'kill', weight: 1, durationMs: { minMs: 400, maxMs: 900 } },
  { fault: 'partition', weight: 2 },
];

function options(seed: number, overrides: Partial<NemesisOptions<Fault>> = {}): NemesisOptions<Fault> {
  return {
    seed,
    durationMs: 60_000,
    menu,
    targets: ['n1', 'n2', 'n3', 'n4', 'n5'],
    faultDurationMs: { minMs: 100, maxMs: 2_000 },
    gapMs: { minMs: 50, maxMs: 1_000 },
    quiesceMs: 3_000,
    ...overrides,
  };
}

/** A short run the tests can play in real time. */
const quick = (seed: number) =>
  options(seed, {
    durationMs: 500,
    faultDurationMs: { minMs: 60, maxMs: 100 },
    gapMs: { minMs: 20, maxMs: 40 },
    menu: [{ fault: 'pause', weight: 1 }],
    quiesceMs: 50,
  });

describe('the nemesis schedule', () => {
  it('is the same for the same seed, schedule and text', () => {
    expect(planSchedule(options(42))).toEqual(planSchedule(options(42)));
    expect(new Nemesis(options(42)).describe()).toBe(new Nemesis(options(42)).describe());
  });

  it('differs between seeds', () => {
    const faults = [1, 2, 3].map((seed) => JSON.stringify(planSchedule(options(seed)).faults));
    expect(new Set(faults).size).toBe(3);
  });

  it('draws from the menu and targets, one fault at a time, all healed within the duration', () => {
    const { faults } = planSchedule(options(7));
    expect(faults.length).toBeGreaterThan(20);
    let healedAtMs = 0;
    for (const entry of faults) {
      expect(entry.atMs).toBeGreaterThanOrEqual(healedAtMs + 50);
      expect(['n1', 'n2', 'n3', 'n4', 'n5']).toContain(entry.target);
      const range = entry.fault === 'kill' ? [400, 900] : [100, 2_000];
      expect(entry.durationMs).toBeGreaterThanOrEqual(range[0]!);
      expect(entry.durationMs).toBeLessThanOrEqual(range[1]!);
      healedAtMs = entry.atMs + entry.durationMs;
    }
    expect(healedAtMs).toBeLessThanOrEqual(60_000);
  });

  it('draws kinds in proportion to their weights, and never a kind of weight 0', () => {
    const weighted: FaultKind<Fault>[] = [
      { fault: 'pause', weight: 3 },
      { fault: 'kill', weight: 0 },
      { fault: 'partition', weight: 1 },
    ];
    const { faults } = planSchedule(options(11, { durationMs: 2_000_000, menu: weighted }));
    const count = (fault: Fault) => faults.filter((entry) => entry.fault === fault).length;
    expect(count('kill')).toBe(0);
    expect(count('pause') / count('partition')).toBeGreaterThan(2.5);
    expect(count('pause') / count('partition')).toBeLessThan(3.5);
  });

  it('prints the seed and every fault', () => {
    const nemesis = new Nemesis(options(5, { durationMs: 5_000 }));
    const text = nemesis.describe();
    expect(text.split('\n')[0]).toBe(
      `nemesis seed 5: ${nemesis.schedule.faults.length} faults over 5000 ms, then 3000 ms quiet`,
    );
    for (const entry of nemesis.schedule.faults)
      expect(text).toMatch(
        new RegExp(`at +${entry.atMs} ms +${entry.fault} +${entry.target} +for ${entry.durationMs} ms`),
      );
  });

  it('refuses a menu with nothing to draw and faults of no length', () => {
    expect(() => planSchedule(options(1, { menu: [{ fault: 'kill', weight: 0 }] }))).toThrow(
      /no fault to draw/,
    );
    expect(() => planSchedule(options(1, { faultDurationMs: { minMs: 0, maxMs: 10 } }))).toThrow(
      /at least 1 ms/,
    );
    expect(() => planSchedule(options(1, { targets: [] }))).toThrow(/at least one target/);
  });
});

describe('running the nemesis', () => {
  it('injects each fault at its time and heals it when its duration is up, then heals all and quiesces', async () => {
    const nemesis = new Nemesis(quick(3));
    const events: string[] = [];
    const startMs = Date.now();
    const records = await nemesis.run(
      {
        pause: (target, scheduled) => {
          events.push(`pause ${target} ${scheduled.atMs}`);
          return () => {
            events.push(`heal ${target} ${scheduled.atMs}`);
          };
        },
        kill: () => () => undefined,
        partition: () => () => undefined,
      },
      { healAll: () => void events.push('heal all') },
    );
    const faults = nemesis.schedule.faults;
    expect(faults.length).toBeGreaterThanOrEqual(3);
    expect(events).toEqual([
      ...faults.flatMap((entry) => [
        `pause ${entry.target} ${entry.atMs}`,
        `heal ${entry.target} ${entry.atMs}`,
      ]),
      'heal all',
    ]);
    for (const [index, record] of records.entries()) {
      const entry = faults[index]!;
      expect(record.injectedAtMs).toBeGreaterThanOrEqual(entry.atMs);
      // Late only by the timer's and the loaded machine's delay.
      expect(record.injectedAtMs).toBeLessThan(entry.atMs + 250);
      expect(record.healedAtMs).toBeGreaterThanOrEqual(entry.atMs + entry.durationMs);
    }
    const lastHealMs = faults.at(-1)!.atMs + faults.at(-1)!.durationMs;
    expect(Date.now() - startMs).toBeGreaterThanOrEqual(lastHealMs + 50);
  });

  it('heals the active fault and fails with the schedule when an action fails', async () => {
    const nemesis = new Nemesis(quick(4));
    const healed: string[] = [];
    let injected = 0;
    const run = nemesis.run(
      {
        pause: (target) => {
          if (++injected === 2) throw new Error('node refused to pause');
          return () => void healed.push(target);
        },
        kill: () => () => undefined,
        partition: () => () => undefined,
      },
      { healAll: () => void healed.push('all') },
    );
    await expect(run).rejects.toThrow(/nemesis run failed: node refused to pause\nnemesis seed 4:/);
    expect(healed).toEqual([nemesis.schedule.faults[0]!.target, 'all']);
  });

  it('fails in bounded time when an action hangs, and still heals', async () => {
    const nemesis = new Nemesis(quick(5));
    let healedAll = false;
    const startMs = Date.now();
    const run = nemesis.run(
      {
        pause: () => new Promise<never>(() => undefined),
        kill: () => () => undefined,
        partition: () => () => undefined,
      },
      {
        actionTimeoutMs: 200,
        healAll: () => {
          healedAll = true;
        },
      },
    );
    await expect(run).rejects.toThrow(/pause on n\d at \d+ ms took longer than 200 ms/);
    expect(Date.now() - startMs).toBeLessThan(1_000);
    expect(healedAll).toBe(true);
  });

  it('stops early on abort, healing the fault in progress', async () => {
    const nemesis = new Nemesis(quick(6));
    const controller = new AbortController();
    const healed: string[] = [];
    const run = nemesis.run(
      {
        pause: (target) => {
          controller.abort(new Error('enough'));
          return () => void healed.push(target);
        },
        kill: () => () => undefined,
        partition: () => () => undefined,
      },
      { signal: controller.signal },
    );
    await expect(run).rejects.toThrow(/enough/);
    expect(healed).toEqual([nemesis.schedule.faults[0]!.target]);
  });
});

describe('a nemesis run when its test ends first', () => {
  const healed: string[] = [];
  let run: Promise<unknown> = Promise.resolve();

  it.fails('(a test that fails in the middle of a run)', async () => {
    const nemesis = new Nemesis(quick(8));
    run = nemesis.run(
      {
        pause: (target) => () => void healed.push(target),
        kill: () => () => undefined,
        partition: () => () => undefined,
      },
      { healAll: () => void healed.push('all') },
    );
    run.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, nemesis.schedule.faults[0]!.atMs + 10));
    throw new Error('planted failure');
  });

  it('was stopped and healed before the next test', async () => {
    await expect(run).rejects.toThrow(/the test ended before the nemesis run did/);
    expect(healed.at(-1)).toBe('all');
    expect(healed).toHaveLength(2);
  });
});
