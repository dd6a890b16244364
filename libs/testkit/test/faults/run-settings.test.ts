import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appendReport,
  faultRunSettings,
  inRounds,
  roundsTimeoutMs,
  runDurationMs,
  shareStretch,
  stretchedTimeoutMs,
} from '../../src/faults/run-settings.js';
import { tempDirSync } from '../../src/temp-dir.js';

describe('faultRunSettings', () => {
  it('keeps the CI run when nothing is set: the default seed, no stretch, no report', () => {
    expect(faultRunSettings({})).toEqual({ seed: 22, stretchedMs: undefined, reportFile: undefined });
    expect(faultRunSettings({ FAULT_SEED: '', FAULT_SECONDS: '', FAULT_REPORT: '' }, 7).seed).toBe(7);
  });

  it('reads the seed, the seconds (to ms) and the report file', () => {
    expect(faultRunSettings({ FAULT_SEED: '-5', FAULT_SECONDS: '2.5', FAULT_REPORT: '/tmp/r.md' })).toEqual({
      seed: -5,
      stretchedMs: 2_500,
      reportFile: '/tmp/r.md',
    });
  });

  it('refuses a malformed seed or duration, naming the variable', () => {
    expect(() => faultRunSettings({ FAULT_SEED: '1.5' })).toThrow(/FAULT_SEED must be an integer, got "1.5"/);
    expect(() => faultRunSettings({ FAULT_SEED: 'abc' })).toThrow(/FAULT_SEED/);
    for (const seconds of ['0', '-1', 'ten', 'Infinity', '86401'])
      expect(() => faultRunSettings({ FAULT_SECONDS: seconds }), seconds).toThrow(/FAULT_SECONDS/);
  });
});

describe('durations and timeouts', () => {
  const ci = faultRunSettings({});
  const long = faultRunSettings({ FAULT_SECONDS: '600' });
  const short = faultRunSettings({ FAULT_SECONDS: '5' });

  it('stretches a nemesis run, never below its CI length', () => {
    expect(runDurationMs(ci, 24_000)).toBe(24_000);
    expect(runDurationMs(long, 24_000)).toBe(600_000);
    expect(runDurationMs(short, 24_000)).toBe(24_000);
  });

  it('gives a stretched test its CI timeout plus three times the stretch', () => {
    expect(stretchedTimeoutMs(ci, { ciRunMs: 24_000, ciTimeoutMs: 60_000 })).toBe(60_000);
    expect(stretchedTimeoutMs(long, { ciRunMs: 24_000, ciTimeoutMs: 60_000 })).toBe(60_000 + 1_728_000);
  });

  it('shares a stretch among the scenarios of a file, and leaves a CI run as it is', () => {
    expect(shareStretch(long, 2)).toEqual({ ...long, stretchedMs: 300_000 });
    expect(shareStretch(ci, 2)).toBe(ci);
    expect(() => shareStretch(long, 0)).toThrow(RangeError);
  });

  it('gives a run in rounds the time plus one whole round', () => {
    expect(roundsTimeoutMs(ci, 90_000)).toBe(90_000);
    expect(roundsTimeoutMs(long, 90_000)).toBe(690_000);
  });
});

describe('inRounds', () => {
  it('runs once with the seed when not stretched', async () => {
    const seeds: number[] = [];
    const rounds = await inRounds(faultRunSettings({ FAULT_SEED: '40' }), async (round) => {
      seeds.push(round.seed);
    });
    expect(rounds).toBe(1);
    expect(seeds).toEqual([40]);
  });

  it('starts rounds, seeded seed + round, while the time is not up, and finishes the last', async () => {
    // A fake clock: each round takes 400 ms, the run 1 s, so rounds start at 0, 400 and 800 ms.
    let nowMs = 0;
    const rounds: { index: number; seed: number }[] = [];
    const count = await inRounds(
      faultRunSettings({ FAULT_SEED: '10', FAULT_SECONDS: '1' }),
      async (round) => {
        rounds.push(round);
        nowMs += 400;
      },
      () => nowMs,
    );
    expect(count).toBe(3);
    expect(rounds).toEqual([
      { index: 0, seed: 10 },
      { index: 1, seed: 11 },
      { index: 2, seed: 12 },
    ]);
  });
});

describe('appendReport', () => {
  it('appends each report to the file, separated by a blank line, and writes nothing without one', () => {
    const file = join(tempDirSync('run-settings-'), 'report.md');
    const settings = faultRunSettings({ FAULT_REPORT: file });
    appendReport(settings, '# one\n');
    appendReport(settings, '# two');
    expect(readFileSync(file, 'utf8')).toBe('# one\n\n# two\n\n');
    expect(() => appendReport(faultRunSettings({}), '# nowhere')).not.toThrow();
  });
});
