import { describe, expect, it } from 'vitest';
import { type ChaosService, DEFAULT_SECONDS, DEFAULT_SEED, parseChaosArgs } from '../chaos/args.js';
import { FAULT_SUITES, matchSuiteFiles } from '../chaos/suites.js';

const services: ChaosService[] = [
  { name: 'id-generator', ready: true, files: 'services/id-generator/test/faults/clock-and-lease.test.ts' },
  { name: 'kv-store', ready: false, files: 'services/kv-store/test/faults/lab*.test.ts' },
  { name: 'rate-limiter', ready: true, files: 'services/rate-limiter/test/faults/redis-link.test.ts' },
];

/** The error's first line: what was wrong (the usage follows it). */
function errorOf(argv: string[]): string {
  const parsed = parseChaosArgs(argv, services);
  if (parsed.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(parsed)}`);
  expect(parsed.text).toContain('usage: pnpm chaos <service> [--seconds N] [--seed S]');
  return parsed.text.split('\n')[0] as string;
}

describe('parseChaosArgs', () => {
  it('takes a service with the defaults: 600 s and the suites own seed', () => {
    expect(parseChaosArgs(['rate-limiter'], services)).toEqual({
      kind: 'run',
      args: { service: 'rate-limiter', seconds: DEFAULT_SECONDS, seed: DEFAULT_SEED },
    });
    expect([DEFAULT_SECONDS, DEFAULT_SEED]).toEqual([600, 22]);
  });

  it('reads --seconds and --seed before or after the service, spaced or with =', () => {
    const expected = { kind: 'run', args: { service: 'id-generator', seconds: 90, seed: -7 } };
    expect(parseChaosArgs(['id-generator', '--seconds', '90', '--seed', '-7'], services)).toEqual(expected);
    expect(parseChaosArgs(['--seed=-7', '--seconds=90', 'id-generator'], services)).toEqual(expected);
  });

  it('answers --help with the usage, naming the services that have suites and those that do not yet', () => {
    const parsed = parseChaosArgs(['--help'], services);
    expect(parsed.kind).toBe('help');
    expect(parsed.kind === 'help' && parsed.text).toContain(
      'one of: id-generator, rate-limiter (no fault suite yet: kv-store)',
    );
    expect(parseChaosArgs(['rate-limiter', '-h'], services).kind).toBe('help');
  });

  it('refuses an unknown service, listing the services that have suites', () => {
    expect(errorOf(['kv'])).toBe(
      'unknown service "kv": the services with fault suites are id-generator, rate-limiter',
    );
  });

  it('says so clearly for a service whose suite does not exist yet', () => {
    expect(errorOf(['kv-store'])).toBe(
      'kv-store has no fault suite yet (no services/kv-store/test/faults/lab*.test.ts)',
    );
  });

  it('refuses a missing service, two services, an unknown option, a repeated or valueless one', () => {
    expect(errorOf([])).toBe('which service? name one');
    expect(errorOf(['--seconds', '60'])).toBe('which service? name one');
    expect(errorOf(['rate-limiter', 'id-generator'])).toBe(
      'one service at a time, got rate-limiter, id-generator',
    );
    expect(errorOf(['rate-limiter', '--minutes', '10'])).toBe('unknown option --minutes');
    expect(errorOf(['rate-limiter', '--seed', '1', '--seed', '2'])).toBe('--seed given twice');
    expect(errorOf(['rate-limiter', '--seconds'])).toBe('--seconds needs a value');
    expect(errorOf(['rate-limiter', '--seconds='])).toBe('--seconds needs a value');
  });

  it('refuses a bad number of seconds or a bad seed', () => {
    for (const seconds of ['0', '-5', '1.5', 'ten', '86401', 'Infinity', '1e9'])
      expect(errorOf(['rate-limiter', '--seconds', seconds]), seconds).toBe(
        `--seconds must be a whole number from 1 to 86400, got "${seconds}"`,
      );
    for (const seed of ['x', '2.5', '9007199254740993'])
      expect(errorOf(['rate-limiter', '--seed', seed]), seed).toBe(
        `--seed must be an integer, got "${seed}"`,
      );
  });
});

describe('the suite registry', () => {
  it('finds the files a pattern names, sorted, and nothing else', () => {
    const kv = FAULT_SUITES['kv-store']!;
    expect(
      matchSuiteFiles(kv, ['lab-partitions.test.ts', 'crash.test.ts', 'lab.test.ts', 'lab-x.ts']),
    ).toEqual([
      'services/kv-store/test/faults/lab-partitions.test.ts',
      'services/kv-store/test/faults/lab.test.ts',
    ]);
    expect(matchSuiteFiles(kv, ['crash.test.ts'])).toEqual([]);
  });

  it('treats a dot in a pattern as a dot', () => {
    const limiter = FAULT_SUITES['rate-limiter']!;
    expect(matchSuiteFiles(limiter, ['redis-link.test.ts', 'redis-linkXtestXts'])).toEqual([
      'services/rate-limiter/test/faults/redis-link.test.ts',
    ]);
  });
});
