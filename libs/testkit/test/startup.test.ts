import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CommandFailedError, runCommand, tempDir } from '../src/index.js';

/**
 * A service's `main.ts` (the platform's `runStandalone`) refuses an operator's mistake with one
 * message on stderr and exit code 1: a bad variable (ConfigError) or a bad file the configuration
 * names (StartupError, such as the rate-limiter's RulesError). No stack trace, no JSON log line to
 * dig the reason out of. Checked across services here, as compose.test.ts checks the compose file.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));
/** tsx compiles the service's sources on the fly: seconds, more on a loaded machine. */
const START_TIMEOUT_MS = 60_000;
const STACK_FRAME = /(\n|\\n)\s+at /;

interface Refusal {
  reason: string;
  stdout: string;
  stderr: string;
}

/** Runs a service's main with `env`; answers how it ended, which must be a refusal. */
async function refusedStart(service: string, env: Record<string, string>): Promise<Refusal> {
  // Backends come from nothing but `env`: the refusal must not depend on the test's servers.
  const { REDIS_URL: _redis, DATABASE_URL: _database, NODE_OPTIONS: _options, ...inherited } = process.env;
  const started = runCommand(
    process.execPath,
    ['--import', 'tsx', '--conditions=@sysdesign/source', 'src/main.ts'],
    { cwd: join(root, 'services', service), env: { ...inherited, HOST: '127.0.0.1', PORT: '0', ...env } },
  );
  const failure = await started.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(failure instanceof CommandFailedError)) throw new Error(`${service} started: ${String(failure)}`);
  return { reason: failure.reason, stdout: failure.stdout, stderr: failure.stderr };
}

describe('a start refused for an operator mistake', () => {
  it(
    'rate-limiter: a rules file that does not parse exits 1 with one line on stderr and no stack trace',
    async () => {
      const rulesFile = join(await tempDir('startup-rules-'), 'rules.yaml');
      await writeFile(rulesFile, 'domain: api\ndescriptors: [unclosed\n');
      const refusal = await refusedStart('rate-limiter', { RULES_FILE: rulesFile, RULES_WATCH: 'false' });
      expect(refusal.reason).toBe('exit code 1');
      expect(refusal.stderr).toMatch(/^rate-limiter: invalid rules: [^\n]*line 3[^\n]*\n$/);
      expect(refusal.stdout + refusal.stderr).not.toMatch(STACK_FRAME);
    },
    START_TIMEOUT_MS,
  );

  it(
    'rate-limiter: a variable out of range exits 1 naming it, with no stack trace',
    async () => {
      const refusal = await refusedStart('rate-limiter', { REDIS_TIMEOUT_MS: 'soon' });
      expect(refusal.reason).toBe('exit code 1');
      expect(refusal.stderr).toMatch(/^rate-limiter: invalid configuration:\n\s+- REDIS_TIMEOUT_MS/);
      expect(refusal.stdout + refusal.stderr).not.toMatch(STACK_FRAME);
    },
    START_TIMEOUT_MS,
  );
});
