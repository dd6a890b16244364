import { createServer } from 'node:net';
import { deleteRedisPrefix, describeWith, freshRedisPrefix, redisBackend } from '@sysdesign/testkit';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import rateLimit, {
  keyBy,
  type RateLimitErrorContext,
  type RateLimitPluginOptions,
} from '../src/fastify/index.js';
import { MAX_WINDOW_MS, type RateLimitPolicy } from '../src/index.js';
import { uniqueName } from './helpers.js';

/** The Fastify plugin: headers, refusals, routes, keys, fail modes, and sharing through Redis. */

const perMinute = (limit: number): RateLimitPolicy => ({
  algorithm: 'fixed_window',
  limit,
  windowMs: MAX_WINDOW_MS,
});

async function appWith(
  options: RateLimitPluginOptions,
  routes?: (app: FastifyInstance) => void,
): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(rateLimit, options);
  if (routes) routes(app);
  else app.get('/', async (request) => ({ ok: true, decision: request.rateLimit }));
  await app.ready();
  return app;
}

async function statuses(
  app: FastifyInstance,
  count: number,
  request: { url?: string; headers?: Record<string, string> } = {},
) {
  const codes: number[] = [];
  for (let call = 0; call < count; call++)
    codes.push(
      (
        await app.inject({
          url: request.url ?? '/',
          ...(request.headers ? { headers: request.headers } : {}),
        })
      ).statusCode,
    );
  return codes;
}

/** A port nothing listens on: a Redis that is down from the start. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('rate-limit plugin, in memory', () => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });
  async function make(options: RateLimitPluginOptions, routes?: (app: FastifyInstance) => void) {
    const app = await appWith(options, routes);
    apps.push(app);
    return app;
  }

  it('announces the limit in X-RateLimit-* and in the IETF RateLimit-Policy / RateLimit fields', async () => {
    // One admitted request of 3 per window: remaining 2 in both vocabularies.
    const app = await make({ policy: { algorithm: 'fixed_window', limit: 3, windowMs: 60_000 } });
    const response = await app.inject({ url: '/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-ratelimit-limit']).toBe('3');
    expect(response.headers['x-ratelimit-remaining']).toBe('2');
    const resetSeconds = Number(response.headers['x-ratelimit-reset']);
    expect(resetSeconds).toBeGreaterThan(0);
    expect(resetSeconds).toBeLessThanOrEqual(60);
    expect(response.headers['ratelimit-policy']).toBe('"default";q=3;w=60');
    expect(response.headers.ratelimit).toBe(`"default";r=2;t=${resetSeconds}`);
    expect(response.headers['retry-after']).toBeUndefined();
    expect(response.json().decision).toMatchObject({ allowed: true, remaining: 2, name: 'default' });
  });

  it("refuses over the limit with a 429 and Retry-After, through Fastify's error handler by default", async () => {
    // The 4th request of 3: no project-specific body, just the status, a code and a sentence.
    const app = await make({ policy: { algorithm: 'sliding_window_log', limit: 3, windowMs: 60_000 } });
    expect(await statuses(app, 3)).toEqual([200, 200, 200]);
    const response = await app.inject({ url: '/?q=secret' });
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('60');
    expect(response.headers['x-ratelimit-remaining']).toBe('0');
    expect(response.json()).toEqual({
      statusCode: 429,
      code: 'RL_ERR_RATE_LIMITED',
      error: 'Too Many Requests',
      message: 'rate limit "default" exceeded: 3 per 60 s; retry in 60 s',
    });
  });

  it('refuses through errorResponseBuilder, whose result the application error handler shapes', async () => {
    // What @fastify/rate-limit does: the builder returns what is thrown; the app renders it.
    const contexts: RateLimitErrorContext[] = [];
    const app = Fastify();
    app.setErrorHandler((error: { context?: RateLimitErrorContext; statusCode?: number }, _request, reply) =>
      reply.code(error.statusCode ?? 500).send({ shaped: true, policy: error.context?.policy }),
    );
    await app.register(rateLimit, {
      policy: perMinute(1),
      errorResponseBuilder: (_request, context) => {
        contexts.push(context);
        return Object.assign(new Error(context.detail), { statusCode: context.statusCode, context });
      },
    });
    app.get('/', async () => 'ok');
    apps.push(app);
    expect((await app.inject({ url: '/' })).statusCode).toBe(200);
    const refused = await app.inject({ url: '/' });
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({ shaped: true, policy: 'default' });
    expect(refused.headers['retry-after']).toBeDefined();
    expect(contexts[0]).toMatchObject({
      reason: 'rate-limited',
      statusCode: 429,
      limit: 1,
      remaining: 0,
      cost: 1,
    });
    expect(contexts[0]!.retryAfterMs).toBeGreaterThan(0);
  });

  it('gives routes their own policies and counters, and exempts routes with rateLimit: false', async () => {
    // /strict has 1 per window of its own; /free is never limited; / shares the default of 2.
    const app = await make({ policy: perMinute(2) }, (instance) => {
      instance.get('/', async () => 'default');
      instance.get('/strict', { config: { rateLimit: { policy: perMinute(1) } } }, async () => 'strict');
      instance.get('/free', { config: { rateLimit: false } }, async () => 'free');
    });
    expect(await statuses(app, 2, { url: '/strict' })).toEqual([200, 429]);
    expect(await statuses(app, 3)).toEqual([200, 200, 429]);
    expect(await statuses(app, 5, { url: '/free' })).toEqual([200, 200, 200, 200, 200]);
    const strict = await app.inject({ url: '/strict' });
    expect(strict.headers['ratelimit-policy']).toBe(`"GET /strict";q=1;w=${MAX_WINDOW_MS / 1_000}`);
  });

  it('with global: false, limits only the routes that ask', async () => {
    // The plugin's policy applies to routes with `config.rateLimit: {}` only.
    const app = await make({ global: false, policy: perMinute(1) }, (instance) => {
      instance.get('/open', async () => 'open');
      instance.get('/limited', { config: { rateLimit: {} } }, async () => 'limited');
    });
    expect(await statuses(app, 3, { url: '/open' })).toEqual([200, 200, 200]);
    expect(await statuses(app, 2, { url: '/limited' })).toEqual([200, 429]);
  });

  it('keys by IP by default, so each client has its own quota', async () => {
    // Two addresses, one request each of a limit of 1: both admitted.
    const app = await make({ policy: perMinute(1) });
    const first = await app.inject({ url: '/', remoteAddress: '10.0.0.1' });
    const second = await app.inject({ url: '/', remoteAddress: '10.0.0.2' });
    const again = await app.inject({ url: '/', remoteAddress: '10.0.0.1' });
    expect([first.statusCode, second.statusCode, again.statusCode]).toEqual([200, 200, 429]);
  });

  it('keys by a header, and does not limit requests without it', async () => {
    // keyBy.header: per API key; anonymous requests pass through unlimited.
    const app = await make({ policy: perMinute(1), key: keyBy.header('X-Api-Key') });
    expect(await statuses(app, 2, { headers: { 'x-api-key': 'a' } })).toEqual([200, 429]);
    expect(await statuses(app, 1, { headers: { 'x-api-key': 'b' } })).toEqual([200]);
    expect(await statuses(app, 3)).toEqual([200, 200, 200]);
  });

  it('keys by user, falling back to the IP for anonymous requests', async () => {
    // keyBy.user: one quota per user id, anonymous callers per address.
    const app = await make({
      policy: perMinute(1),
      key: keyBy.user((request) => request.headers['x-user'] as string | undefined),
    });
    expect(await statuses(app, 2, { headers: { 'x-user': '42' } })).toEqual([200, 429]);
    expect(await statuses(app, 2)).toEqual([200, 429]);
  });

  it('charges what the cost function says', async () => {
    // A cost of 3 against a limit of 5: the second such request does not fit.
    const app = await make({
      policy: perMinute(5),
      cost: (request) => Number(request.headers['x-cost'] ?? 1),
    });
    const first = await app.inject({ url: '/', headers: { 'x-cost': '3' } });
    expect(first.headers['x-ratelimit-remaining']).toBe('2');
    expect((await app.inject({ url: '/', headers: { 'x-cost': '3' } })).statusCode).toBe(429);
    expect((await app.inject({ url: '/', headers: { 'x-cost': '2' } })).statusCode).toBe(200);
  });

  it('refuses a request that costs more than the limit can ever admit, without Retry-After', async () => {
    // Waiting would never help, so the problem says so instead of naming a retry time.
    const app = await make({ policy: perMinute(5), cost: () => 6 });
    const response = await app.inject({ url: '/' });
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBeUndefined();
    expect(response.json()).toMatchObject({ statusCode: 429, code: 'RL_ERR_COST_EXCEEDS_LIMIT' });
    expect(response.json().message).toContain('admits at most 5 at once');
  });

  it('skips allowed requests and reports refusals to onExceeded', async () => {
    // Internal callers pass; each refusal is reported once.
    const exceeded: string[] = [];
    const app = await make({
      policy: perMinute(1),
      allow: (request) => request.headers['x-internal'] === 'yes',
      onExceeded: (_request, decision) => exceeded.push(decision.name),
    });
    expect(await statuses(app, 3, { headers: { 'x-internal': 'yes' } })).toEqual([200, 200, 200]);
    expect(await statuses(app, 3)).toEqual([200, 429, 429]);
    expect(exceeded).toEqual(['default', 'default']);
  });

  it('offers app.rateLimit() as a hook for routes that opt in by hand', async () => {
    // A named limiter used as an onRequest hook.
    const app = await make({ global: false, policy: perMinute(100) }, (instance) => {
      instance.get(
        '/manual',
        { onRequest: instance.rateLimit({ name: 'manual', policy: perMinute(1) }) },
        async () => 'ok',
      );
    });
    expect(await statuses(app, 2, { url: '/manual' })).toEqual([200, 429]);
  });

  it('refuses one name configured with two different policies, at registration', async () => {
    // Two routes silently sharing a counter under different numbers would be a bug.
    await expect(
      make({ policy: perMinute(1) }, (instance) => {
        instance.get('/a', { config: { rateLimit: { name: 'x', policy: perMinute(1) } } }, async () => 'a');
        instance.get('/b', { config: { rateLimit: { name: 'x', policy: perMinute(2) } } }, async () => 'b');
      }),
    ).rejects.toThrow('configured twice');
  });

  it('can leave out either header vocabulary', async () => {
    // headers: { legacy: false } keeps only the IETF fields.
    const app = await make({ policy: perMinute(2), headers: { legacy: false } });
    const response = await app.inject({ url: '/' });
    expect(response.headers['x-ratelimit-limit']).toBeUndefined();
    expect(response.headers.ratelimit).toBeDefined();
  });
});

describe('rate-limit plugin when Redis is down', () => {
  let redis: Redis;
  const apps: FastifyInstance[] = [];
  beforeAll(async () => {
    redis = new Redis({
      port: await deadPort(),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
    });
    redis.on('error', () => undefined);
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    redis.disconnect();
  });

  async function timedStatuses(app: FastifyInstance, count: number) {
    const started = performance.now();
    const responses = [];
    for (let call = 0; call < count; call++) responses.push(await app.inject({ url: '/' }));
    return { responses, ms: performance.now() - started };
  }

  it('fails open: admits every request, without rate-limit headers, and without waiting', async () => {
    // 20 requests against a dead Redis: all 200, and the breaker keeps the total small.
    const unavailable: string[] = [];
    const app = await appWith({
      redis,
      name: uniqueName('open'),
      policy: perMinute(1),
      failMode: 'open',
      timeoutMs: 200,
      onUnavailable: (_request, error) => unavailable.push(error.reason),
    });
    apps.push(app);
    const { responses, ms } = await timedStatuses(app, 20);
    expect(responses.map((response) => response.statusCode)).toEqual(Array(20).fill(200));
    expect(responses[0]!.headers['x-ratelimit-limit']).toBeUndefined();
    expect(unavailable).toHaveLength(20);
    expect(unavailable.at(-1)).toBe('breaker-open');
    expect(ms).toBeLessThan(2_000);
  });

  it('fails closed: refuses every request with a 503 and Retry-After, without waiting', async () => {
    // Same outage, the other policy: nothing passes, and nobody hangs.
    const app = await appWith({
      redis,
      name: uniqueName('closed'),
      policy: perMinute(1),
      failMode: 'closed',
      timeoutMs: 200,
    });
    apps.push(app);
    const { responses, ms } = await timedStatuses(app, 20);
    expect(responses.map((response) => response.statusCode)).toEqual(Array(20).fill(503));
    expect(responses[0]!.headers['retry-after']).toBe('1');
    expect(responses[0]!.json()).toMatchObject({ statusCode: 503, code: 'RL_ERR_UNAVAILABLE' });
    expect(ms).toBeLessThan(2_000);
  });
});

describeWith(await redisBackend(), 'rate-limit plugin shared through Redis', ({ url }) => {
  const prefix = freshRedisPrefix('limiter-fastify');
  let clients: Redis[];
  beforeAll(() => {
    clients = [
      new Redis(url, { enableAutoPipelining: true }),
      new Redis(url, { enableAutoPipelining: true }),
    ];
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await deleteRedisPrefix(url, prefix);
  });

  it('admits exactly 50 of 200 concurrent requests spread over two apps', async () => {
    // Two app instances (two servers) with their own connections share one quota in Redis.
    const name = uniqueName('shared');
    const options = {
      prefix,
      name,
      policy: { algorithm: 'gcra', limit: 50, windowMs: MAX_WINDOW_MS / 100 } as const,
      timeoutMs: 5_000,
    };
    const apps = await Promise.all(clients.map((redis) => appWith({ ...options, redis })));
    try {
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, request) =>
          apps[request % 2]!.inject({ url: '/', remoteAddress: '10.1.1.1' }),
        ),
      );
      expect(responses.filter((response) => response.statusCode === 200)).toHaveLength(50);
      expect(responses.filter((response) => response.statusCode === 429)).toHaveLength(150);
    } finally {
      for (const app of apps) await app.close();
    }
  });
});
