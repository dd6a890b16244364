import type { ServiceApp } from '@sysdesign/platform';
import { describeWith, waitFor } from '@sysdesign/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  buildFromEnv,
  type CheckBody,
  metricValue,
  OwnRedis,
  redisServerBinary,
  rulesDir,
} from './helpers.js';

/**
 * Redis killed mid-run (a redis-server of the test's own, SIGKILLed): with FAIL_MODE=open checks
 * are admitted, with FAIL_MODE=closed refused, neither waits more than the Redis timeout, and once
 * the breaker is open not at all. When Redis comes back, both recover by themselves.
 */

const RULES = `
domain: outage
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: 100 }
`;
const TIMEOUT_MS = 100;
const CHECKS_DURING_OUTAGE = 30;

const binary = redisServerBinary();
const backend =
  'path' in binary
    ? { available: true as const, value: binary.path, source: 'env' as const }
    : { available: false as const, reason: binary.reason };

describeWith(backend, 'Redis killed mid-run', (binaryPath) => {
  let redis: OwnRedis;
  let rules: Awaited<ReturnType<typeof rulesDir>>;
  let failOpen: ServiceApp;
  let failClosed: ServiceApp;

  beforeAll(async () => {
    redis = await OwnRedis.start(binaryPath);
    rules = await rulesDir(RULES);
    const env = {
      RULES_FILE: rules.file,
      REDIS_URL: redis.url,
      REDIS_TIMEOUT_MS: String(TIMEOUT_MS),
      BREAKER_FAILURE_THRESHOLD: '3',
      BREAKER_COOLDOWN_MS: '200',
    };
    failOpen = await buildFromEnv({ ...env, FAIL_MODE: 'open' });
    failClosed = await buildFromEnv({ ...env, FAIL_MODE: 'closed' });
  });
  afterAll(async () => {
    await failOpen?.close();
    await failClosed?.close();
    await redis?.kill();
    await rules?.remove();
  });

  async function timedChecks(app: ServiceApp, count: number) {
    const outcomes: { status: number; body: CheckBody; ms: number }[] = [];
    for (let call = 0; call < count; call++) {
      const started = performance.now();
      const response = await app.inject({
        method: 'POST',
        url: '/v1/check',
        payload: { domain: 'outage', descriptors: [{ key: 'user', value: 'u1' }] },
      });
      outcomes.push({
        status: response.statusCode,
        body: response.json<CheckBody>(),
        ms: performance.now() - started,
      });
    }
    return outcomes;
  }

  it('decides through Redis while it is up', async () => {
    // The baseline: both instances count in the test's own Redis.
    for (const app of [failOpen, failClosed]) {
      const [outcome] = await timedChecks(app, 1);
      expect(outcome).toMatchObject({ status: 200, body: { reason: 'within_limit' } });
    }
  });

  it('fails open or closed as configured once Redis is killed, and neither hangs', async () => {
    // SIGKILL, then 30 checks on each instance: every one answered, none slower than the timeout.
    await redis.kill();
    const [opened, closed] = [
      await timedChecks(failOpen, CHECKS_DURING_OUTAGE),
      await timedChecks(failClosed, CHECKS_DURING_OUTAGE),
    ];
    expect(
      opened.every(
        (outcome) => outcome.status === 200 && outcome.body.reason === 'fail_open' && outcome.body.allowed,
      ),
    ).toBe(true);
    expect(
      closed.every(
        (outcome) => outcome.status === 429 && outcome.body.reason === 'fail_closed' && !outcome.body.allowed,
      ),
    ).toBe(true);
    for (const outcomes of [opened, closed]) {
      expect(Math.max(...outcomes.map((outcome) => outcome.ms))).toBeLessThan(TIMEOUT_MS + 150);
      // With the breaker open, a check costs no wait at all: the median is far below the timeout.
      const sorted = outcomes.map((outcome) => outcome.ms).sort((a, b) => a - b);
      expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(TIMEOUT_MS / 4);
    }
    expect(
      await metricValue(failOpen, /^ratelimit_redis_errors_total\{.*reason="breaker-open"/),
    ).toBeGreaterThan(0);
    expect(await metricValue(failOpen, /^ratelimit_redis_breaker_open\{/)).toBe(1);
    const ready = await failOpen.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks.redis.ok).toBe(false);
  });

  it('recovers by itself when Redis is back', async () => {
    // Restart on the same port: the client reconnects, a half-open probe succeeds, checks count again.
    await redis.restart();
    for (const app of [failOpen, failClosed]) {
      await waitFor(
        async () => (await timedChecks(app, 1))[0]!.body.reason === 'within_limit',
        'checks to count in Redis again',
        {
          timeoutMs: 10_000,
          intervalMs: 50,
        },
      );
      expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
    }
    expect(await metricValue(failOpen, /^ratelimit_redis_breaker_open\{/)).toBe(0);
  });
});
