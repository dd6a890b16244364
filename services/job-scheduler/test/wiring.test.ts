import { join } from 'node:path';
import { createLogger, EmbeddedPostgres, loadConfig } from '@sysdesign/platform';
import { freshSchemaName, tempDirSync, waitFor } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';
import { bearer, buildFromEnv, submit, waitForState } from './helpers.js';

/**
 * How the scheduler is wired into the platform: its parts open in dependency order (so they close
 * in reverse), its readiness checks Postgres, its metrics carry the queue series, and the embedded
 * mode writes a dev token with both scopes to DATA_DIR.
 */

let embedded: EmbeddedPostgres;

async function expectEventually(condition: () => Promise<boolean>): Promise<void> {
  await waitFor(condition, 'the condition', { timeoutMs: 10_000, intervalMs: 100 });
}

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
});
afterAll(async () => {
  await embedded.close();
});

describe('wiring', () => {
  it('opens Postgres first and the workers after the cron ticker, and reports readiness and metrics', async () => {
    const app = await buildFromEnv({ REAP_MS: '100' }, { embedded, schema: freshSchemaName('wiring') });
    try {
      expect(app.lifecycle.open).toEqual([
        'postgres',
        'cron',
        'http agents',
        'builtin workers',
        'push dispatcher',
        'gauges',
        'retention',
      ]);
      const ready = await app.inject({ url: '/readyz' });
      expect(Object.keys(ready.json().checks)).toEqual(['postgres']);
      const auth = await bearer();
      const job = await submit(app, { queue: 'builtin', payload: { handler: 'echo' } }, auth);
      await waitForState(app, job.id, 'succeeded');
      const metrics = (await app.inject({ url: '/metrics' })).body;
      expect(metrics).toContain('jobsched_jobs_submitted_total{queue="builtin",service="job-scheduler"} 1');
      expect(metrics).toContain('jobsched_fencing_refusals_total');
      expect(metrics).toContain('jobsched_queue_lag_seconds');
    } finally {
      await app.close();
    }
  });

  it('deletes finished jobs past FINISHED_RETENTION_HOURS on its timer, keeping unfinished ones', async () => {
    let nowMs = Date.now();
    const app = await buildFromEnv(
      { PURGE_INTERVAL_MS: '1000', FINISHED_RETENTION_HOURS: '1' },
      { embedded, schema: freshSchemaName('retention'), nowMs: () => nowMs },
    );
    try {
      const auth = await bearer();
      const done = await submit(app, { queue: 'builtin', payload: { handler: 'echo' } }, auth);
      await waitForState(app, done.id, 'succeeded');
      const pending = await submit(app, { queue: 'default', payload: 1 }, auth);
      nowMs += 2 * 3_600_000;
      await expectEventually(
        async () => (await app.inject({ url: `/v1/jobs/${done.id}` })).statusCode === 404,
      );
      expect((await app.inject({ url: `/v1/jobs/${pending.id}` })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('writes a dev token with the write and work scopes when AUTH_SECRET is unset', async () => {
    const dir = tempDirSync('job-scheduler-dev-');
    const config = loadConfig(configSchema, { LOG_LEVEL: 'silent', PGLITE_DIR: 'memory', DATA_DIR: dir });
    const app = await buildService(config, {
      logger: createLogger('silent'),
      embedded,
      sqlSchema: freshSchemaName('dev'),
    });
    try {
      const { readFile } = await import('node:fs/promises');
      const token = (await readFile(join(dir, 'dev-token'), 'utf8')).trim();
      const leased = await app.inject({
        method: 'POST',
        url: '/v1/queues/default/lease',
        headers: { authorization: `Bearer ${token}` },
        payload: {},
      });
      expect(leased.statusCode).toBe(200);
      const submitted = await app.inject({
        method: 'POST',
        url: '/v1/jobs',
        headers: { authorization: `Bearer ${token}` },
        payload: { queue: 'default', payload: 1 },
      });
      expect(submitted.statusCode).toBe(201);
    } finally {
      await app.close();
    }
  });
});
