import { EmbeddedPostgres, type ServiceApp, TokenAuthority } from '@sysdesign/platform';
import {
  deleteRedisPrefix,
  describeWith,
  freshRedisPrefix,
  freshSchemaName,
  redisBackend,
  tempDirSync,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFromEnv, metricValue, TEST_AUTH_SECRET } from './helpers.js';

const authority = new TokenAuthority({ secret: TEST_AUTH_SECRET });

async function create(app: ServiceApp, index: number, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/v1/urls',
    payload: { url: `https://example.com/limited/${index}` },
    headers,
  });
}

let embedded: EmbeddedPostgres;
beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
});
afterAll(async () => embedded.close());

describe('rate-limited creation (in-process counts)', () => {
  it('admits CREATE_RATE_LIMIT creations per client and window, then answers 429 with Retry-After', async () => {
    // Creation is the expensive, abusable write; redirects are never limited.
    const dir = tempDirSync('url-shortener-ratelimit-');
    const app = await buildFromEnv(
      { DATA_DIR: dir, CREATE_RATE_LIMIT: '3' },
      { embedded, schema: freshSchemaName('rl') },
    );
    try {
      const statuses = [];
      for (let index = 0; index < 5; index++) statuses.push((await create(app, index)).statusCode);
      expect(statuses).toEqual([201, 201, 201, 429, 429]);
      const refused = await create(app, 99);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      // The service's own problem, shaped by the plugin's errorResponseBuilder.
      expect(refused.json()).toMatchObject({
        type: 'urn:sysdesign:problem:rate-limited',
        title: 'Too many requests',
        status: 429,
        code: 'RATE_LIMITED',
        instance: '/v1/urls',
        policy: expect.any(String),
        limit: 3,
        remaining: 0,
      });
      expect(refused.json().retryAfterMs).toBeGreaterThan(0);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused.headers['x-ratelimit-limit']).toBe('3');
      // A signed-in user has a quota of their own, apart from the anonymous address's.
      const alice = { authorization: `Bearer ${await authority.issue('alice', { ttlSeconds: 60 })}` };
      expect((await create(app, 100, alice)).statusCode).toBe(201);
      expect(await metricValue(app, 'urlshort_create_rate_limited_total')).toBe(3);
      // Redirects and reads are not limited.
      const code = (await create(app, 101, alice)).json().code;
      for (let index = 0; index < 10; index++)
        expect((await app.inject({ url: `/${code}` })).statusCode).toBe(302);
    } finally {
      await app.close();
    }
  });

  it('does not limit at all with RATE_LIMIT_ENABLED=false', async () => {
    const dir = tempDirSync('url-shortener-nolimit-');
    const app = await buildFromEnv(
      { DATA_DIR: dir, CREATE_RATE_LIMIT: '1', RATE_LIMIT_ENABLED: 'false' },
      { embedded, schema: freshSchemaName('nolimit') },
    );
    try {
      for (let index = 0; index < 4; index++) expect((await create(app, index)).statusCode).toBe(201);
    } finally {
      await app.close();
    }
  });
});

describeWith(await redisBackend(), 'rate-limited creation shared through Redis', ({ url }) => {
  const prefix = freshRedisPrefix('urlshort-rl');
  afterAll(async () => deleteRedisPrefix(url, prefix));

  it('shares one quota between two instances', async () => {
    const dirs = [tempDirSync('url-shortener-rl-a-'), tempDirSync('url-shortener-rl-b-')];
    const schema = freshSchemaName('rlredis');
    const env = (index: number) => ({
      DATA_DIR: dirs[index]!,
      REDIS_URL: url,
      REDIS_KEY_PREFIX: prefix,
      CREATE_RATE_LIMIT: '4',
    });
    const a = await buildFromEnv(env(0), { embedded, schema });
    const b = await buildFromEnv(env(1), { embedded, schema });
    try {
      const statuses = [];
      for (let index = 0; index < 6; index++)
        statuses.push((await create(index % 2 === 0 ? a : b, index)).statusCode);
      expect(statuses.filter((status) => status === 201)).toHaveLength(4);
      expect(statuses.slice(4)).toEqual([429, 429]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
