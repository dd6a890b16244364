import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));

describe('leaderboard bench', () => {
  it('runs its index and rebuild modes in smoke mode and prints both tables, every player rebuilt', async () => {
    // Keeps `pnpm --filter @sysdesign/leaderboard bench` from rotting: a few seconds of each mode on
    // the backends at hand (the twin and PGlite always; Redis and Postgres when configured). The run
    // itself fails when a rebuild restores another number of players than the log holds.
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '--conditions=@sysdesign/source', 'bench/run.ts', 'index', 'rebuild', '--smoke'],
      { cwd: packageDir, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stdout).toContain('smoke mode');
    expect(stdout).toMatch(/\| twin \| 2,000 \|/);
    expect(stdout).toMatch(/\| PGlite, twin \| 5,000 \| 1,250 \|/);
  }, 300_000);
});
