/**
 * The HTTP apps of the rate-limiter peer benchmark, each started in its own child process by the load
 * harness: Fastify with `@fastify/rate-limit` on its Redis store, and Fastify with our plugin on Redis.
 * Both limit every request by client IP (all of autocannon's requests are one client: one hot key) at a
 * limit no run reaches, and answer the same small JSON body; both read BENCH_REDIS_URL.
 */
import ourRateLimit from '@sysdesign/redis-limiters/fastify';
import Fastify, { type FastifyPluginAsync } from 'fastify';
import { Redis } from 'ioredis';
import type { BenchTarget } from '../../target.js';

export const CHECK_PATH = '/check';
/** Requests per second per client that no run reaches (our policies allow at most 1,000,000). */
const UNREACHED_LIMIT = 1_000_000;
const WINDOW_MS = 1_000;

function benchRedis(): Redis {
  const url = process.env.BENCH_REDIS_URL;
  if (url === undefined) throw new Error('set BENCH_REDIS_URL (the peer bench does)');
  return new Redis(url);
}

function prefix(name: string): string {
  return `peers:${name}:${process.pid}:`;
}

/** The options of `@fastify/rate-limit` this bench sets. */
interface FastifyRateLimitOptions {
  redis: Redis;
  nameSpace: string;
  max: number;
  timeWindow: number;
}

/**
 * `@fastify/rate-limit` and our plugin both declare `app.rateLimit` on Fastify's types, and the
 * repository typechecks as one program: a static import would put the two declarations side by side.
 * The peer is loaded by a name the compiler does not follow, and typed by the options set here.
 */
const FASTIFY_RATE_LIMIT = '@fastify/rate-limit';

async function loadFastifyRateLimit(): Promise<FastifyPluginAsync<FastifyRateLimitOptions>> {
  const module = (await import(FASTIFY_RATE_LIMIT)) as {
    default: FastifyPluginAsync<FastifyRateLimitOptions>;
  };
  return module.default;
}

export async function createFastifyRateLimitTarget(): Promise<BenchTarget> {
  const redis = benchRedis();
  const app = Fastify({ logger: false });
  await app.register(await loadFastifyRateLimit(), {
    redis,
    nameSpace: prefix('fastify-rate-limit'),
    max: UNREACHED_LIMIT,
    timeWindow: WINDOW_MS,
  });
  app.post(CHECK_PATH, async () => ({ allowed: true }));
  return { app, close: async () => redis.disconnect() };
}

export async function createOurPluginTarget(): Promise<BenchTarget> {
  const redis = benchRedis();
  const app = Fastify({ logger: false });
  await app.register(ourRateLimit, {
    redis,
    prefix: prefix('ours'),
    policy: { algorithm: 'token_bucket', limit: UNREACHED_LIMIT, windowMs: WINDOW_MS },
    // A check Redis did not decide must fail the run (503), never pass as an admission.
    failMode: 'closed',
    timeoutMs: 2_000,
  });
  app.post(CHECK_PATH, async () => ({ allowed: true }));
  return { app, close: async () => redis.disconnect() };
}
