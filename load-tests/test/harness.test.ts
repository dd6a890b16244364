import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BenchFailureError, renderMarkdown, runHttpBench, runMicro } from '../src/index.js';

const baselineTarget = { modulePath: new URL('../src/baseline-target.ts', import.meta.url) };
const failingTarget = {
  modulePath: new URL('./fixtures/failing-target.ts', import.meta.url),
  exportName: 'createFailingTarget',
};
const quick = {
  durationSeconds: 1,
  rounds: 1,
  warmupSeconds: 0,
  connections: 5,
  log: () => {},
  platformFloor: false,
};

/** The pids whose parent is this process, read from /proc (Linux; null elsewhere). */
function childPids(): number[] | null {
  if (!existsSync('/proc/self/stat')) return null;
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // Fields after the command name (which may hold spaces) in parentheses: state, ppid, ...
    const parentPid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parentPid === process.pid) children.push(Number(entry));
  }
  return children.sort((left, right) => left - right);
}

describe('runHttpBench', () => {
  it('measures the baseline against itself, renders a table of numbers, and leaves no child behind', async () => {
    // Proves the whole path (fork, IPC port, autocannon, medians, markdown) on the cheapest target there is.
    const before = childPids();
    const http = await runHttpBench({
      service: 'harness-self-test',
      target: baselineTarget,
      scenarios: [
        {
          name: 'small',
          path: '/baseline',
          setupRequests: [{ method: 'POST', path: '/baseline', body: {} }],
        },
        { name: 'large', path: '/baseline/large', baseline: 'large' },
      ],
      ...quick,
      platformFloor: true,
    });
    const micro = [await runMicro('add', () => 1 + 1, { timeMs: 20, samples: 3, note: 'trivial' })];
    const markdown = renderMarkdown({ service: 'harness-self-test', http, micro });

    expect(childPids()).toEqual(before);
    expect(http.scenarios.map((scenario) => scenario.name)).toEqual(['small', 'large']);
    // The platform floor is measured in the same run and leads the table, whatever the service.
    expect(http.floor?.path).toBe('/floor?name=bench');
    expect(http.floor?.service.requestsPerSecond).toBeGreaterThan(0);
    expect(markdown).toMatch(
      /\| platform floor: no-op GET in a createService app \| [\d,]+ \|[^\n]*\n\| small \|/,
    );
    for (const scenario of http.scenarios) {
      expect(scenario.service.requestsPerSecond).toBeGreaterThan(0);
      expect(scenario.baseline.requestsPerSecond).toBeGreaterThan(0);
      expect(scenario.ratio).toBeGreaterThan(0);
    }
    expect(markdown).toContain(
      '| scenario | req/s | p50 ms | p99 ms | CPU µs/req | baseline req/s | baseline p50 | baseline p99 | baseline CPU µs/req | ratio | CPU cost × |',
    );
    const number = '[\\d,]+(?:\\.\\d)?';
    const row = (name: string) =>
      new RegExp(
        `^\\| ${name} \\| ${number} \\| ${number} \\| ${number} \\| ${number} \\| ${number} \\| ${number} \\| ${number} \\| ${number} \\| \\d+\\.\\d\\d \\| \\d+\\.\\d\\d \\|$`,
        'm',
      );
    expect(markdown).toMatch(row('small'));
    expect(markdown).toMatch(row('large'));
    expect(markdown).toMatch(/^\| add \| [\d,]+ \| trivial \|$/m);
    expect(markdown).toContain(`Node ${process.version}`);
  });

  it('rejects when the service answers 500, and stops both children', async () => {
    // A broken service must fail the bench instead of printing a flattering table.
    const before = childPids();
    const run = runHttpBench({
      service: 'harness-self-test',
      target: failingTarget,
      scenarios: [{ name: 'broken', path: '/v1/anything' }],
      ...quick,
    });
    await expect(run).rejects.toBeInstanceOf(BenchFailureError);
    await expect(run).rejects.toThrow(/"broken".*failed against the service[\s\S]*500/);
    expect(childPids()).toEqual(before);
  });

  it('measures a redirecting route when the scenario expects 302, and rejects it when it does not', async () => {
    // A redirect is a success for a URL shortener; without expectStatus it must count as a failure.
    const target = { modulePath: failingTarget.modulePath, exportName: 'createRedirectTarget' };
    const result = await runHttpBench({
      service: 'harness-self-test',
      target,
      scenarios: [{ name: 'redirect', path: '/abc', expectStatus: 302 }],
      ...quick,
    });
    expect(result.scenarios[0]!.service.unexpected).toBe(0);
    expect(result.scenarios[0]!.service.requestsPerSecond).toBeGreaterThan(0);
    await expect(
      runHttpBench({
        service: 'harness-self-test',
        target,
        scenarios: [{ name: 'redirect', path: '/abc' }],
        ...quick,
      }),
    ).rejects.toThrow(/302 ×/);
  });

  it('rejects when the target module has no such factory, and leaves no child behind', async () => {
    const before = childPids();
    const run = runHttpBench({
      service: 'harness-self-test',
      target: { modulePath: baselineTarget.modulePath, exportName: 'noSuchFactory' },
      scenarios: [{ name: 'never', path: '/baseline' }],
      ...quick,
    });
    await expect(run).rejects.toThrow(/noSuchFactory is not an exported function/);
    expect(childPids()).toEqual(before);
  });
});
