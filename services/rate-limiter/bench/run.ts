import { fileURLToPath } from 'node:url';
import {
  type HttpScenario,
  type MicroResult,
  runHttpBench,
  runMicro,
  writeReport,
} from '@sysdesign/load-tests';
import { createRedis } from '@sysdesign/platform';
import { ALGORITHMS, MemoryLimiter, RedisLimiter } from '@sysdesign/redis-limiters';
import { DEFAULT_RULES_FILE } from '../src/config.js';
import { matchRule } from '../src/domain/rules.js';
import { loadRulesFile } from '../src/workers/rules-watcher.js';

/**
 * `pnpm --filter @sysdesign/rate-limiter bench`: POST /v1/check under load beside a bare-Fastify
 * baseline, in-memory and (with BENCH_REDIS_URL or REDIS_URL) with Redis; then decisions/s of each
 * Lua script with ioredis auto-pipelining, of the in-memory twins, and of rule matching.
 */

const PIPELINE_BATCH = 256;
const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL;

const check = (client: string): Pick<HttpScenario, 'method' | 'path' | 'body'> => ({
  method: 'POST',
  path: '/v1/check',
  body: { domain: 'bench', descriptors: [{ key: 'client', value: client }] },
});

async function micro(): Promise<MicroResult[]> {
  const results: MicroResult[] = [];
  const rules = await loadRulesFile(DEFAULT_RULES_FILE);
  const api = rules.domains.get('api')!;
  const entries = [
    { key: 'plan', value: 'pro' },
    { key: 'api_key', value: 'k-123' },
  ];
  results.push(
    await runMicro('matchRule, 2 entries (default rules)', () => matchRule(api, entries), {
      note: 'tree walk',
    }),
  );
  for (const algorithm of ALGORITHMS) {
    const limiter = new MemoryLimiter({ algorithm, limit: 1_000, windowMs: 1_000 }, { name: 'micro' });
    let key = 0;
    results.push(
      await runMicro(`${algorithm}, in-memory twin`, () => limiter.limitNow(`k${key++ % 10_000}`), {
        note: 'decisions/s',
      }),
    );
  }
  if (!redisUrl) return results;
  const redis = await createRedis({
    url: redisUrl,
    connectionName: 'rate-limiter-bench',
    commandTimeoutMs: 10_000,
  });
  const prefix = `bench:limiters:${Date.now().toString(36)}:`;
  try {
    for (const algorithm of ALGORITHMS) {
      const limiter = new RedisLimiter(
        redis,
        { algorithm, limit: 1_000, windowMs: 1_000 },
        { name: 'micro', prefix, timeoutMs: 10_000 },
      );
      let key = 0;
      const batch = () =>
        Promise.all(Array.from({ length: PIPELINE_BATCH }, () => limiter.limit(`k${key++ % 10_000}`)));
      const result = await runMicro(`${algorithm}, Lua ×${PIPELINE_BATCH} in flight`, batch, { timeMs: 400 });
      result.note = `${Math.round(result.opsPerSecond * PIPELINE_BATCH).toLocaleString('en')} decisions/s, one connection, auto-pipelining`;
      results.push(result);
    }
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    for (let start = 0; start < keys.length; start += 1_000)
      await redis.del(...keys.slice(start, start + 1_000));
    redis.disconnect();
  }
  return results;
}

const targetPath = new URL('./target.ts', import.meta.url);
// The service child inherits this: production settings, as the images run.
process.env.NODE_ENV = 'production';
const http = await runHttpBench({
  service: 'rate-limiter',
  target: { modulePath: targetPath },
  scenarios: [
    { name: 'check, in-memory', ...check('hot') },
    { name: 'check, shadow mode over limit, in-memory', ...check('over') },
  ],
});
if (redisUrl) {
  process.env.BENCH_REDIS_URL = redisUrl;
  const withRedis = await runHttpBench({
    service: 'rate-limiter',
    target: { modulePath: targetPath, exportName: 'createRedisBenchTarget' },
    // Measured once, in the in-memory run above.
    platformFloor: false,
    scenarios: [
      { name: 'check, Redis (token bucket)', ...check('hot') },
      { name: 'check, Redis (GCRA)', ...check('gcra') },
      { name: 'check, shadow mode over limit, Redis', ...check('over') },
    ],
  });
  http.scenarios.push(...withRedis.scenarios);
}
await writeReport({
  service: 'rate-limiter',
  http,
  micro: await micro(),
  notes: [
    'Service: NODE_ENV=production, LOG_LEVEL=warn (no per-request logs), validation, metrics and rate-limit headers on; rules from bench/rules.yaml.',
    'Baseline: bare Fastify answering `{"ok":true}` to the same POST with the same JSON body.',
    redisUrl
      ? 'Redis scenarios: the local Redis 7 (BENCH_REDIS_URL or REDIS_URL), one connection with auto-pipelining, over-limit cache on, FAIL_MODE=closed (a check Redis did not decide would be a 429 and fail the run) and REDIS_TIMEOUT_MS=2000 (a Redis starved of CPU shows as latency, not as a fallback).'
      : 'Set BENCH_REDIS_URL (or REDIS_URL) to add the Redis-backed scenarios and the Lua scripts.',
    `Micro-benchmarks: the Lua rows run ${PIPELINE_BATCH} decisions in flight per sample (ops/s is batches/s).`,
    `Rules file of the HTTP runs: ${fileURLToPath(new URL('./rules.yaml', import.meta.url))}.`,
  ],
});
