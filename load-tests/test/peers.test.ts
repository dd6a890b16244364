import { describe, expect, it } from 'vitest';
import { PEER_DESIGNS } from '../src/peers/registry.js';
import { alternateRounds } from '../src/peers/rounds.js';
import { runPeerBench, selectDesigns } from '../src/peers/run.js';

/** The row of a markdown table whose first cells are `cells`, split into its cells. */
function row(markdown: string, ...cells: string[]): string[] {
  const prefix = `| ${cells.join(' | ')} |`;
  const line = markdown.split('\n').find((candidate) => candidate.startsWith(prefix));
  if (line === undefined) throw new Error(`no row starting ${prefix} in:\n${markdown}`);
  return line
    .slice(2, -2)
    .split(' | ')
    .map((cell) => cell.trim());
}

describe('bench:peers', () => {
  it('rotates the order of the contenders round by round', async () => {
    // Proves the alternation (A B C, B C A, C A B) that spreads a noisy machine's drift over every side.
    const order: string[] = [];
    const spreads = await alternateRounds(['a', 'b', 'c'], 3, (name, round) => {
      order.push(name);
      return round + 1;
    });
    expect(order).toEqual(['a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b']);
    expect(spreads.get('b')).toMatchObject({ median: 2, min: 1, max: 3 });
  });

  it('refuses a design it does not know, naming the ones it does', () => {
    expect(() => selectDesigns(['kv-store', 'no-such-design'])).toThrow(
      /no peer benchmark for no-such-design \(known: .*kv-store/,
    );
  });

  it('runs every design in smoke mode and reports speed beside correctness for each', async () => {
    // One short round of every design: the harness, every peer package and every target still run
    // together. Ratios are not asserted (a loaded machine decides them); the correctness rows are.
    const outcomes = await runPeerBench({ designs: [], smoke: true, write: false, log: () => {} });
    expect(outcomes.map((outcome) => outcome.design)).toEqual(PEER_DESIGNS.map((design) => design.name));
    const reports = new Map(outcomes.map((outcome) => [outcome.design, outcome.markdown ?? '']));
    for (const outcome of outcomes) {
      expect(outcome.skipped, `${outcome.design} was skipped`).toBeUndefined();
      expect(outcome.path).toBeUndefined();
      expect(outcome.markdown).toMatch(/^# .* against what you would use instead\n/);
      expect(outcome.markdown).toContain(`\`pnpm bench:peers ${outcome.design}\` (smoke mode`);
      expect(outcome.markdown).toMatch(/\| `[^`]+` \| \d+\.\d+\.\d+ \|/);
    }

    const limiters = reports.get('redis-limiters')!;
    for (const limiter of ['ours token_bucket', 'ours sliding_window_counter', 'ours fixed_window']) {
      expect(row(limiters, limiter).at(-1)).toBe('100 of 150');
    }
    expect(row(limiters, 'rate-limiter-flexible RateLimiterRedis').at(-1)).toBe('100 of 150');

    const service = reports.get('rate-limiter')!;
    expect(Number(row(service, 'Fastify + @fastify/rate-limit (Redis store)')[2])).toBe(1);

    const ids = reports.get('id-generator')!;
    const written = ids.slice(ids.indexOf('## What each wrote'));
    expect(row(written, 'ULID, monotonic', 'ours UlidGenerator').slice(2)).toEqual(['0', '0']);
    expect(row(written, 'UUIDv7', 'ours UuidV7Generator').slice(2)).toEqual(['0', '0']);
    expect(row(written, 'Snowflake', 'ours SnowflakeGenerator').slice(2)).toEqual(['0', '0']);

    const ring = reports.get('consistent-hashing')!;
    expect(row(ring, 'ours HashRing (murmur3)', '256')[5]).toBe('100.0 %');

    const kv = reports.get('kv-store')!;
    const correctness = kv.slice(kv.indexOf('## Load and correctness'));
    for (const engine of [
      'ours (LSM: commit log, memtable, SSTables)',
      'classic-level (LevelDB)',
      'lmdb (LMDB)',
    ]) {
      expect(row(correctness, engine).at(-1)).toBe('0');
    }

    const jobs = reports.get('job-queue')!;
    const exactlyOnce = jobs.slice(jobs.indexOf('## Correctness'));
    for (const contender of [
      'ours @sysdesign/job-queue (Postgres)',
      'BullMQ (Redis)',
      'graphile-worker, batched (Postgres)',
      'pg-boss (Postgres)',
    ]) {
      expect(row(exactlyOnce, contender).slice(1)).toEqual(['200', '0', '0']);
    }
  }, 240_000);
});
