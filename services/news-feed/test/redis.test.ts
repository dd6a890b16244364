import { createRedisStreamsEventBus, type EventBus } from '@sysdesign/platform';
import {
  deleteRedisPrefix,
  describeWith,
  dropSchema,
  freshRedisPrefix,
  freshSchemaName,
  redisAndPostgresBackend,
  waitFor,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Built, buildFromEnv, Client, drained } from './helpers.js';

/**
 * The distributed shape, as docker-compose runs it: two API replicas and a fanout worker, three
 * apps on one Postgres schema, one Redis key prefix (feeds, timelines, the cache tiers, the post
 * limiter) and the Redis Streams bus. A post made on one replica reaches a follower reading on
 * the other; a delete on one is gone on the other; pages past FEED_MAX come from Postgres; the
 * shared cache tiers count hits.
 */

const both = await redisAndPostgresBackend();

describeWith(
  both,
  'two API replicas and a fanout worker on Redis and Postgres',
  ({ redisUrl, databaseUrl }) => {
    const schema = freshSchemaName('feed_redis');
    const prefix = freshRedisPrefix('feed');
    const buses: EventBus[] = [];
    const apps: Built[] = [];
    let postsMade = 0;

    async function start(role: 'api' | 'worker'): Promise<Built> {
      const bus = await createRedisStreamsEventBus({
        url: redisUrl,
        clientId: `feed-${role}`,
        keyPrefix: `${prefix}bus:`,
      });
      buses.push(bus);
      const built = await buildFromEnv(
        {
          DATABASE_URL: databaseUrl,
          REDIS_URL: redisUrl,
          REDIS_KEY_PREFIX: prefix,
          TOPIC_PREFIX: `t-${schema.replace(/_/g, '-')}`,
          ROLE: role,
          FANOUT: 'write',
          FEED_MAX: '10',
          // Another replica's delete is seen at once (the bound is HOT_TTL_MS).
          HOT_TTL_MS: '0',
        },
        { schema, bus },
      );
      apps.push(built);
      return built;
    }

    let one: Built;
    let two: Built;
    let worker: Built;

    beforeAll(async () => {
      one = await start('api');
      two = await start('api');
      worker = await start('worker');
    });

    afterAll(async () => {
      for (const built of apps) await built.app.close();
      for (const bus of buses) await bus.close();
      await dropSchema(databaseUrl, schema);
      await deleteRedisPrefix(redisUrl, prefix);
    });

    it('fans a post made on one replica out to a reader on the other, and a delete on either hides it on both', async () => {
      const author = await Client.of(one.app, 'author');
      const reader = await Client.of(two.app, 'reader');
      const readerOnOne = await Client.of(one.app, 'reader');
      await author.register();
      await reader.register();
      await reader.follow('author');
      const posts: string[] = [];
      for (let index = 0; index < 15; index += 1) {
        posts.push((await author.post(`redis ${index}`)).id);
        postsMade += 1;
      }
      await drained(worker.parts, postsMade);
      const expected = Array.from({ length: 15 }, (_, index) => `redis ${14 - index}`);
      expect(await reader.wholeFeed(4)).toEqual(expected);
      expect(await readerOnOne.wholeFeed(6)).toEqual(expected);
      expect(await two.parts.timelines.feedSize('reader')).toBe(10);
      await author.deletePost(posts[14]!);
      await waitFor(
        async () => (await reader.wholeFeed(20))[0] === 'redis 13',
        'the delete on the other replica',
      );
      expect(await readerOnOne.wholeFeed(20)).toEqual(expected.slice(1));
    });

    it('counts hits of the shared cache tiers', async () => {
      const metrics = (await two.app.inject({ url: '/metrics' })).body;
      const hit = metrics
        .split('\n')
        .find(
          (line) =>
            line.startsWith('news_feed_cache_lookups_total') &&
            line.includes('tier="content"') &&
            line.includes('result="hit"'),
        );
      expect(Number(hit?.split(' ').pop() ?? 0)).toBeGreaterThan(0);
    });
  },
);
