import { EmbeddedPostgres, TokenAuthority } from '@sysdesign/platform';
import {
  deleteRedisPrefix,
  describeWith,
  freshRedisPrefix,
  freshSchemaName,
  redisBackend,
  tempDirSync,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildFromEnv, createLink, metricValue, TEST_AUTH_SECRET } from './helpers.js';

describeWith(await redisBackend(), 'the redirect cache in Redis, shared by two instances', ({ url }) => {
  let embedded: EmbeddedPostgres;
  const prefix = freshRedisPrefix('urlshort');
  const dirs = [tempDirSync('url-shortener-redis-a-'), tempDirSync('url-shortener-redis-b-')];
  beforeAll(async () => {
    embedded = await EmbeddedPostgres.open('memory');
  });
  afterAll(async () => {
    await embedded.close();
    await deleteRedisPrefix(url, prefix);
  });

  it('serves the second instance from the cache the first filled, and a delete on one reaches both', async () => {
    // With REDIS_URL the cache is shared: one miss for the fleet, one invalidation for the fleet.
    const schema = freshSchemaName('rediscache');
    const env = (index: number) => ({
      DATA_DIR: dirs[index]!,
      REDIS_URL: url,
      REDIS_KEY_PREFIX: prefix,
      WORKER_LEASE_STORE: 'redis',
    });
    const a = await buildFromEnv(env(0), { embedded, schema });
    const b = await buildFromEnv(env(1), { embedded, schema });
    try {
      const token = await new TokenAuthority({ secret: TEST_AUTH_SECRET }).issue('alice', { ttlSeconds: 60 });
      const { link } = await createLink(
        a,
        { url: 'https://example.com/fleet' },
        { authorization: `Bearer ${token}` },
      );
      expect((await a.inject({ url: `/${link.code}` })).statusCode).toBe(302);
      expect((await b.inject({ url: `/${link.code}` })).statusCode).toBe(302);
      expect(await metricValue(a, 'urlshort_cache_lookups_total', { result: 'miss' })).toBe(1);
      expect(await metricValue(b, 'urlshort_cache_lookups_total', { result: 'hit' })).toBe(1);
      expect(
        (
          await b.inject({
            method: 'DELETE',
            url: `/v1/urls/${link.code}`,
            headers: { authorization: `Bearer ${token}` },
          })
        ).statusCode,
      ).toBe(204);
      expect((await a.inject({ url: `/${link.code}` })).statusCode).toBe(410);
      expect((await b.inject({ url: `/${link.code}` })).statusCode).toBe(410);
      // Unknown codes: one negative entry shared by both.
      expect((await a.inject({ url: '/neverCreated' })).statusCode).toBe(404);
      expect((await b.inject({ url: '/neverCreated' })).statusCode).toBe(404);
      expect(await metricValue(b, 'urlshort_cache_lookups_total', { result: 'negative_hit' })).toBe(1);
      expect((await a.inject({ url: '/readyz' })).json().checks.redis.ok).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
