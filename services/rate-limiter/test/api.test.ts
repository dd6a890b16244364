import type { ServiceApp } from '@sysdesign/platform';
import { deleteRedisPrefix, describeWith, freshRedisPrefix, redisBackend } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFromEnv, check, metricValue, rulesDir } from './helpers.js';

/**
 * The HTTP contract of the service, whichever backend keeps the counters: the same suite runs on
 * the in-memory twins and on Redis.
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
domain: test
descriptors:
  - key: ip
    rate_limit: { unit: hour, requests_per_unit: 3 }
  - key: near
    rate_limit: { unit: hour, requests_per_unit: 10, algorithm: fixed_window }
  - key: shadow
    shadow_mode: true
    rate_limit: { unit: hour, requests_per_unit: 1, algorithm: fixed_window }
  - key: free
    rate_limit: { unlimited: true }
  - key: queue
    rate_limit: { unit: minute, requests_per_unit: 10, algorithm: leaking_bucket, burst: 3 }
  - key: edge
    descriptors:
${ALGORITHMS.map((algorithm) => `      - key: algorithm\n        value: ${algorithm}\n        rate_limit: { unit: second, requests_per_unit: 10, algorithm: ${algorithm} }`).join('\n')}
---
domain: other
descriptors:
  - key: k
    rate_limit: { unit: minute, requests_per_unit: 1 }
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let sequence = 0;
/** A value no other test (or earlier run against the same Redis) has counted. */
const fresh = (label: string) => `${label}-${Date.now().toString(36)}-${++sequence}`;

function apiContract(open: () => Promise<ServiceApp>) {
  let app: ServiceApp;
  beforeAll(async () => {
    app = await open();
  });
  afterAll(() => app.close());

  it('admits within the limit: 200, the decision, and the rate-limit headers', async () => {
    // Token bucket of 3 per hour: the first check leaves 2.
    const { status, headers, body } = await check(app, 'test', [['ip', fresh('ip')]]);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      allowed: true,
      reason: 'within_limit',
      rule: 'test/ip',
      name: 'test/ip',
      algorithm: 'token_bucket',
      shadowMode: false,
      limit: 3,
      remaining: 2,
      retryAfterMs: 0,
      delayMs: 0,
    });
    expect(headers['x-ratelimit-limit']).toBe('3');
    expect(headers['x-ratelimit-remaining']).toBe('2');
    expect(headers['ratelimit-policy']).toBe('"test/ip";q=3;w=3600');
    expect(headers.ratelimit).toBe(`"test/ip";r=2;t=${headers['x-ratelimit-reset']}`);
  });

  it('refuses over the limit: 429 with the same body, Retry-After and nothing remaining', async () => {
    // The 4th check of 3 per hour must wait 20 minutes for one token.
    const ip = fresh('ip');
    for (let call = 0; call < 3; call++) expect((await check(app, 'test', [['ip', ip]])).status).toBe(200);
    const { status, headers, body } = await check(app, 'test', [['ip', ip]]);
    expect(status).toBe(429);
    expect(body).toMatchObject({ allowed: false, reason: 'over_limit', remaining: 0 });
    expect(body.retryAfterMs).toBeGreaterThan(1_199_000);
    expect(body.retryAfterMs).toBeLessThanOrEqual(1_200_000);
    expect(headers['retry-after']).toBe('1200');
  });

  it('counts hits, and reads without counting when hits is 0', async () => {
    // hits: 2 uses two of three; hits: 0 shows one left and leaves it.
    const ip = fresh('ip');
    expect((await check(app, 'test', [['ip', ip]], 2)).body.remaining).toBe(1);
    expect((await check(app, 'test', [['ip', ip]], 0)).body).toMatchObject({ allowed: true, remaining: 1 });
    expect((await check(app, 'test', [['ip', ip]], 1)).body.remaining).toBe(0);
  });

  it('gives every value of a key-only descriptor its own counter', async () => {
    // Exhausting one address leaves another untouched.
    const [first, second] = [fresh('ip'), fresh('ip')];
    await check(app, 'test', [['ip', first]], 3);
    expect((await check(app, 'test', [['ip', first]])).status).toBe(429);
    expect((await check(app, 'test', [['ip', second]])).status).toBe(200);
  });

  it('counts a hostile 1 KB value like any other, without a server error', async () => {
    // 1,024 ampersands escape to 3 KB: the limiter stores such keys by hash instead of failing.
    const value = `${fresh('ip')}${'&'.repeat(1_000)}`;
    expect((await check(app, 'test', [['ip', value]], 3)).status).toBe(200);
    expect((await check(app, 'test', [['ip', value]])).status).toBe(429);
  });

  it('allows what no rule matches, and says so', async () => {
    // No rule: no counter, no headers, reason no_rule.
    const { status, headers, body } = await check(app, 'test', [['nothing', 'here']]);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      allowed: true,
      reason: 'no_rule',
      rule: null,
      limit: null,
      remaining: null,
    });
    expect(headers['x-ratelimit-limit']).toBeUndefined();
  });

  it('allows an unlimited rule without counting', async () => {
    // unlimited: true matches but never limits.
    const { body } = await check(app, 'test', [['free', 'x']], 1_000_000);
    expect(body).toMatchObject({ allowed: true, reason: 'unlimited', rule: 'test/free', limit: null });
  });

  it('in shadow mode, reports over-limit checks but admits them, and counts them', async () => {
    // Limit 1: the second check is over the limit, answered 200 with reason shadow_mode.
    const value = fresh('shadow');
    const before = await metricValue(app, /^ratelimit_shadow_mode_total\{.*rule="test\/shadow"/);
    expect((await check(app, 'test', [['shadow', value]])).body.reason).toBe('within_limit');
    const { status, headers, body } = await check(app, 'test', [['shadow', value]]);
    expect(status).toBe(200);
    expect(body).toMatchObject({ allowed: true, reason: 'shadow_mode', shadowMode: true, remaining: 0 });
    expect(body.retryAfterMs).toBeGreaterThan(0);
    expect(headers['x-ratelimit-remaining']).toBe('0');
    expect(await metricValue(app, /^ratelimit_shadow_mode_total\{.*rule="test\/shadow"/)).toBe(before + 1);
  });

  it('tells a leaking-bucket request how long it waits to leave at the fixed rate', async () => {
    // 10 a minute, queue of 3: the k-th queued request leaves (k − 1) × 6 s later (less the few ms the checks take).
    const value = fresh('queue');
    const delays = [];
    for (let call = 0; call < 3; call++)
      delays.push((await check(app, 'test', [['queue', value]])).body.delayMs!);
    expect(delays[0]).toBe(0);
    expect(delays[1]).toBeGreaterThan(5_500);
    expect(delays[1]).toBeLessThanOrEqual(6_000);
    expect(delays[2]).toBeGreaterThan(11_500);
    expect(delays[2]).toBeLessThanOrEqual(12_000);
    expect((await check(app, 'test', [['queue', value]])).status).toBe(429);
  });

  it('counts decisions by domain, rule and result, and checks near the limit', async () => {
    // 9 of 10 used is past 80 %: the 8th and 9th checks count as near the limit.
    const value = fresh('near');
    const decisions = /^ratelimit_decisions_total\{.*domain="test",rule="test\/near",result="within_limit"/;
    const near = /^ratelimit_near_limit_total\{.*rule="test\/near"/;
    const [decisionsBefore, nearBefore] = [await metricValue(app, decisions), await metricValue(app, near)];
    for (let call = 0; call < 9; call++) await check(app, 'test', [['near', value]]);
    expect(await metricValue(app, decisions)).toBe(decisionsBefore + 9);
    expect(await metricValue(app, near)).toBe(nearBefore + 2);
  });

  it('refuses an unknown domain with a 400 problem naming the domain and listing the known ones', async () => {
    // A misconfigured client must learn it, not be silently allowed.
    const response = await app.inject({
      method: 'POST',
      url: '/v1/check',
      payload: { domain: 'nope', descriptors: [{ key: 'k', value: 'v' }] },
    });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({
      code: 'RL_ERR_UNKNOWN_DOMAIN',
      errors: [{ in: 'body', field: 'domain' }],
      knownDomains: ['test', 'other'],
    });
  });

  it('refuses hits above what the rule can ever admit, naming hits', async () => {
    // 4 hits against a capacity of 3 could never pass: a 400, not a 429 with a retry time.
    const response = await app.inject({
      method: 'POST',
      url: '/v1/check',
      payload: { domain: 'test', descriptors: [{ key: 'ip', value: fresh('ip') }], hits: 4 },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({
      code: 'RL_ERR_HITS_EXCEED_LIMIT',
      errors: [{ field: 'hits' }],
      rule: 'test/ip',
    });
  });

  it.each([
    ['a missing domain', { descriptors: [{ key: 'k', value: 'v' }] }, 'domain'],
    ['a numeric domain', { domain: 7, descriptors: [{ key: 'k', value: 'v' }] }, 'domain'],
    ['an empty domain', { domain: '', descriptors: [{ key: 'k', value: 'v' }] }, 'domain'],
    ['an overlong domain', { domain: 'd'.repeat(257), descriptors: [{ key: 'k', value: 'v' }] }, 'domain'],
    ['missing descriptors', { domain: 'test' }, 'descriptors'],
    ['empty descriptors', { domain: 'test', descriptors: [] }, 'descriptors'],
    ['descriptors as an object', { domain: 'test', descriptors: { key: 'k', value: 'v' } }, 'descriptors'],
    [
      'nine descriptor entries',
      { domain: 'test', descriptors: Array(9).fill({ key: 'k', value: 'v' }) },
      'descriptors',
    ],
    ['an entry without a value', { domain: 'test', descriptors: [{ key: 'k' }] }, 'descriptors.0.value'],
    [
      'an entry with a numeric key',
      { domain: 'test', descriptors: [{ key: 1, value: 'v' }] },
      'descriptors.0.key',
    ],
    [
      'an overlong value',
      { domain: 'test', descriptors: [{ key: 'k', value: 'v'.repeat(1_025) }] },
      'descriptors.0.value',
    ],
    ['negative hits', { domain: 'test', descriptors: [{ key: 'k', value: 'v' }], hits: -1 }, 'hits'],
    ['fractional hits', { domain: 'test', descriptors: [{ key: 'k', value: 'v' }], hits: 1.5 }, 'hits'],
    ['hits as a string', { domain: 'test', descriptors: [{ key: 'k', value: 'v' }], hits: '1' }, 'hits'],
    [
      'hits above 1,000,000',
      { domain: 'test', descriptors: [{ key: 'k', value: 'v' }], hits: 1_000_001 },
      'hits',
    ],
  ])('refuses %s with a 400 naming the field', async (_label, payload, field) => {
    // Bad input is the client's error, never a 500, and the problem says which field.
    const response = await app.inject({ method: 'POST', url: '/v1/check', payload });
    expect(response.statusCode).toBe(400);
    expect(response.json().errors.map((error: { field: string }) => error.field)).toContain(field);
  });

  it('refuses a body that is not JSON, or not an object, with a 400', async () => {
    // Malformed bodies are client errors too.
    const notJson = await app.inject({
      method: 'POST',
      url: '/v1/check',
      headers: { 'content-type': 'application/json' },
      payload: '{"domain":',
    });
    const notObject = await app.inject({ method: 'POST', url: '/v1/check', payload: [1, 2] });
    expect([notJson.statusCode, notObject.statusCode]).toEqual([400, 400]);
  });

  it('lists the loaded rules and when they were loaded', async () => {
    // GET /v1/rules shows what is in force, rule by rule.
    const response = await app.inject({ url: '/v1/rules' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({ version: 1, lastRejectedReload: null });
    expect(Date.now() - Date.parse(body.loadedAt)).toBeLessThan(60_000);
    expect(body.domains.map((domain: { domain: string }) => domain.domain)).toEqual(['test', 'other']);
    expect(body.domains[0].rules[0]).toEqual({
      id: 'test/ip',
      name: 'test/ip',
      descriptors: [{ key: 'ip' }],
      unlimited: false,
      unit: 'hour',
      requestsPerUnit: 3,
      algorithm: 'token_bucket',
      burst: 3,
      windowMs: 3_600_000,
      shadowMode: false,
    });
  });

  describe.concurrent('each algorithm at its edge, on the real clock', () => {
    it.each(ALGORITHMS)(
      '%s admits a burst of 10, refuses with a retry time, and admits once it has passed',
      async (algorithm) => {
        // 10 per second. The buckets refill while the burst runs, so they may admit a few more on a
        // slow machine; the windows admit exactly 10 (the burst starts early in a second, so the
        // fixed window's cannot straddle a window edge).
        while (Date.now() % 1_000 > 300) await sleep(10);
        const value = fresh('edge');
        const descriptors: [string, string][] = [
          ['edge', value],
          ['algorithm', algorithm],
        ];
        let admitted = 0;
        let refused: Awaited<ReturnType<typeof check>> | undefined;
        while (refused === undefined && admitted < 20) {
          const result = await check(app, 'test', descriptors);
          if (result.status === 200) admitted++;
          else refused = result;
        }
        if (['fixed_window', 'sliding_window_log', 'sliding_window_counter'].includes(algorithm))
          expect(admitted).toBe(10);
        else expect(admitted).toBeGreaterThanOrEqual(10);
        expect(refused?.status).toBe(429);
        expect(refused!.body.retryAfterMs).toBeGreaterThan(0);
        expect(refused!.body.retryAfterMs).toBeLessThanOrEqual(1_200);
        // Waiting the advertised time (plus 2 ms for timer granularity) must be enough.
        await sleep(refused!.body.retryAfterMs! + 2);
        expect((await check(app, 'test', descriptors)).status).toBe(200);
      },
    );
  });
}

describe('API on in-memory counters', () => {
  let rules: Awaited<ReturnType<typeof rulesDir>>;
  beforeAll(async () => {
    rules = await rulesDir(RULES);
  });
  afterAll(() => rules.remove());
  apiContract(() => buildFromEnv({ RULES_FILE: rules.file }));

  it('reports ready without Redis', async () => {
    // Embedded mode has no backend to wait for.
    const app = await buildFromEnv({ RULES_FILE: rules.file });
    try {
      const response = await app.inject({ url: '/readyz' });
      expect(response.statusCode).toBe(200);
      expect(response.json().checks).toEqual({});
    } finally {
      await app.close();
    }
  });
});

describeWith(await redisBackend(), 'API on Redis', ({ url }) => {
  const prefix = freshRedisPrefix('rate-limiter-api');
  let rules: Awaited<ReturnType<typeof rulesDir>>;
  beforeAll(async () => {
    rules = await rulesDir(RULES);
  });
  afterAll(async () => {
    await rules.remove();
    await deleteRedisPrefix(url, prefix);
  });
  apiContract(() =>
    buildFromEnv({
      RULES_FILE: rules.file,
      REDIS_URL: url,
      REDIS_KEY_PREFIX: prefix,
      REDIS_TIMEOUT_MS: '5000',
    }),
  );

  it('reports Redis in /readyz', async () => {
    // The readiness probe includes the Redis ping.
    const app = await buildFromEnv({ RULES_FILE: rules.file, REDIS_URL: url, REDIS_KEY_PREFIX: prefix });
    try {
      const response = await app.inject({ url: '/readyz' });
      expect(response.statusCode).toBe(200);
      expect(response.json().checks.redis.ok).toBe(true);
    } finally {
      await app.close();
    }
  });
});
