import type { ServiceApp } from '@sysdesign/platform';
import { deleteRedisPrefix, describeWith, freshRedisPrefix, redisBackend } from '@sysdesign/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildFromEnv, rulesDir } from './helpers.js';

/**
 * Hard limits are exact across instances: two service instances, each with its own Redis
 * connection, take 200 concurrent checks against one counter with a limit of 50.
 */

const ALGORITHMS = [
  'token_bucket',
  'leaking_bucket',
  'fixed_window',
  'sliding_window_log',
  'sliding_window_counter',
  'gcra',
];
const RULES = `
domain: exact
descriptors:
${ALGORITHMS.map((algorithm) => `  - key: ${algorithm}\n    rate_limit: { unit: day, requests_per_unit: 50, algorithm: ${algorithm} }`).join('\n')}
`;

describeWith(await redisBackend(), 'exactness across two service instances', ({ url }) => {
  const prefix = freshRedisPrefix('rate-limiter-exact');
  let rules: Awaited<ReturnType<typeof rulesDir>>;
  let instances: ServiceApp[];
  beforeAll(async () => {
    rules = await rulesDir(RULES);
    const env = {
      RULES_FILE: rules.file,
      REDIS_URL: url,
      REDIS_KEY_PREFIX: prefix,
      REDIS_TIMEOUT_MS: '5000',
    };
    instances = [await buildFromEnv(env), await buildFromEnv(env)];
  });
  afterAll(async () => {
    for (const instance of instances) await instance.close();
    await rules.remove();
    await deleteRedisPrefix(url, prefix);
  });

  it.each(ALGORITHMS)(
    '%s: admits exactly 50 of 200 concurrent requests across 2 instances',
    async (algorithm) => {
      // 100 checks to each instance, all in flight at once; the Lua script serializes them in Redis.
      // Unshared counters would admit 50 per instance, 100 in all.
      const value = `client-${Date.now()}`;
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, request) =>
          instances[request % 2]!.inject({
            method: 'POST',
            url: '/v1/check',
            payload: { domain: 'exact', descriptors: [{ key: algorithm, value }] },
          }),
        ),
      );
      const statuses = responses.map((response) => response.statusCode);
      expect(statuses.filter((status) => status === 200)).toHaveLength(50);
      expect(statuses.filter((status) => status === 429)).toHaveLength(150);
    },
  );
});
