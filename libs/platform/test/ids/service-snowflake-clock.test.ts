import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  ConfigError,
  createClock,
  createLogger,
  defineService,
  type LeasedSnowflake,
  loadConfig,
  openServiceSql,
  type ServiceApp,
  serviceVars,
  snowflakeVars,
  startServiceSnowflake,
  WORKER_LEASE_MIGRATIONS,
} from '../../src/index.js';

const configSchema = z.object({
  ...serviceVars({ name: 'clock-probe', port: 3098 }),
  PGLITE_DIR: z.string().default('memory'),
  ...snowflakeVars,
});

const SKEW_MS = -5_000;
/** Slack for the time between reading the clock here and inside the generator. */
const SLACK_MS = 1_000;

const apps: ServiceApp[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function startWorker(env: Record<string, string>, clock?: ReturnType<typeof createClock>) {
  let worker: LeasedSnowflake | undefined;
  const probe = defineService({
    name: 'clock-probe',
    description: 'A probe of the snowflake worker’s clock.',
    defaultPort: 3098,
    configSchema,
    async setup(app, config, context) {
      const sql = await openServiceSql(app, config, context, { migrations: [WORKER_LEASE_MIGRATIONS] });
      worker = await startServiceSnowflake(app, config, { sql, ...(clock ? { clock } : {}) });
    },
  });
  const config = loadConfig(configSchema, { LOG_LEVEL: 'silent', ...env });
  const app = await probe.build(config, { logger: createLogger('silent') });
  apps.push(app);
  return worker!;
}

function stampedMs(worker: LeasedSnowflake): number {
  return worker.generator.decode(worker.generator.nextSync()).timestamp.getTime();
}

describe('startServiceSnowflake: the process clock', () => {
  it('stamps ids with the time of a clock set back by SYSDESIGN_CLOCK_OFFSET_MS', async () => {
    vi.stubEnv('SYSDESIGN_CLOCK_OFFSET_MS', String(SKEW_MS));
    const worker = await startWorker({});
    const stamped = stampedMs(worker);
    expect(stamped).toBeLessThanOrEqual(Date.now() + SKEW_MS);
    expect(stamped).toBeGreaterThan(Date.now() + SKEW_MS - SLACK_MS);
  });

  it('lets an explicit clock win over the environment', async () => {
    vi.stubEnv('SYSDESIGN_CLOCK_OFFSET_MS', String(SKEW_MS));
    const worker = await startWorker({}, createClock({ offsetMs: 0 }));
    expect(stampedMs(worker)).toBeGreaterThan(Date.now() - SLACK_MS);
  });

  it('judges ID_EPOCH_MS against the skewed clock: an epoch between it and the system clock is in the future', async () => {
    // A minute of skew: the check runs after PGlite opens, seconds later on a loaded machine,
    // and the epoch must still be ahead of the skewed clock then.
    vi.stubEnv('SYSDESIGN_CLOCK_OFFSET_MS', '-60000');
    const epochMs = Date.now() - 1_000;
    await expect(startWorker({ ID_EPOCH_MS: String(epochMs) })).rejects.toBeInstanceOf(ConfigError);
  });
});
