import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));

describe('wallet HTTP bench', () => {
  it('runs every locking mode in smoke mode and prints a row per mode and contention, every transfer answered 201', async () => {
    // Keeps `pnpm --filter @sysdesign/wallet bench:http` from rotting: one second per row on PGlite.
    // The harness itself fails the run when any transfer answers other than 2xx (an overdraft, a
    // 503 of exhausted retries, a seeding failure).
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '--conditions=@sysdesign/source', 'bench/http.ts', '--smoke'],
      { cwd: packageDir, timeout: 400_000, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stdout).toContain('smoke mode');
    for (const mode of ['pessimistic', 'optimistic', 'constraint']) {
      expect(stdout).toContain(`PGlite, ${mode}: low contention (100 wallets)`);
      expect(stdout).toContain(`PGlite, ${mode}: 10 hot wallets`);
    }
  }, 450_000);
});
