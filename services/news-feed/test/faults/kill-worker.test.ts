import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { memberOf } from '../../src/store/timelines.js';
import { type Built, buildFromEnv, Client } from '../helpers.js';

/**
 * kill -9 a fanout worker in the middle of a batch: 3,000 followers in batches of 500, written
 * 10 feeds per round trip, so a batch takes many round trips. The test kills the worker process
 * once the first follower has the post and the last has not, starts another worker, and checks
 * that every follower ends up with the post exactly once (the batch is redelivered, and its writes
 * are idempotent).
 */

const FOLLOWERS = 3_000;
const fixture = fileURLToPath(new URL('./fanout-child.ts', import.meta.url));

const both = await redisAndPostgresBackend();

describeWith(both, 'a fanout worker killed mid-batch', ({ redisUrl, databaseUrl }) => {
  const schema = freshSchemaName('feed_kill');
  const prefix = freshRedisPrefix('feed-kill');
  const topicPrefix = `t-${schema.replace(/_/g, '-')}`;
  const children: ChildProcess[] = [];
  let bus: EventBus;
  let built: Built;

  function startWorker(): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@sysdesign/source', fixture], {
      env: {
        ...process.env,
        REDIS_URL: redisUrl,
        DATABASE_URL: databaseUrl,
        FEED_TEST_SCHEMA: schema,
        FEED_TEST_REDIS_PREFIX: prefix,
        FEED_TEST_BUS_PREFIX: `${prefix}bus:`,
        FEED_TEST_TOPIC_PREFIX: topicPrefix,
        FANOUT_BATCH: '500',
        FANOUT_WRITE_CHUNK: '10',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    return new Promise((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) resolve(child);
      });
      child.once('exit', (code) => reject(new Error(`worker exited with ${code} before ready: ${stderr}`)));
    });
  }

  beforeAll(async () => {
    bus = await createRedisStreamsEventBus({
      url: redisUrl,
      clientId: 'feed-kill-api',
      keyPrefix: `${prefix}bus:`,
    });
    built = await buildFromEnv(
      {
        DATABASE_URL: databaseUrl,
        REDIS_URL: redisUrl,
        REDIS_KEY_PREFIX: prefix,
        TOPIC_PREFIX: topicPrefix,
        ROLE: 'api',
        FANOUT: 'write',
      },
      { schema, bus },
    );
    // The followers, written straight into the tables: 3,000 registrations through HTTP would be the slow part.
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const now = Date.now();
      await client.query(
        `INSERT INTO ${schema}.users (id, display_name, created_ms, last_seen_ms)
         SELECT 'f' || lpad(n::text, 5, '0'), 'follower', $1, $1 FROM generate_series(0, $2 - 1) n`,
        [now, FOLLOWERS],
      );
      const author = await Client.of(built.app, 'author');
      await author.register();
      await client.query(
        `INSERT INTO ${schema}.follows (follower, followee, created_ms)
         SELECT 'f' || lpad(n::text, 5, '0'), 'author', $1 FROM generate_series(0, $2 - 1) n`,
        [now, FOLLOWERS],
      );
    } finally {
      await client.end();
    }
    const followers = Array.from({ length: FOLLOWERS }, (_, index) => `f${String(index).padStart(5, '0')}`);
    // Their feeds exist (built, empty), as registration leaves them.
    await built.parts.sets.zadd(
      'built:feed:write',
      followers.map((member) => ({ member, score: -1 })),
    );
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await built?.app.close();
    await bus?.close();
    await dropSchema(databaseUrl, schema);
    await deleteRedisPrefix(redisUrl, prefix);
  });

  it('delivers the post to every follower exactly once after the worker is killed mid-batch', {
    timeout: 120_000,
  }, async () => {
    const first = await startWorker();
    const author = await Client.of(built.app, 'author');
    const post = await author.post('survives a kill -9');
    const member = memberOf({ id: BigInt(post.id), author: 'author', score: 0 });
    const has = async (follower: string) =>
      (await built.parts.sets.zscore(`feed:write:${follower}`, member)) !== null;
    await waitFor(() => has('f00000'), 'the first follower to get the post', {
      timeoutMs: 60_000,
      intervalMs: 2,
    });
    first.kill('SIGKILL');
    const lastHadItAtKill = await has(`f${String(FOLLOWERS - 1).padStart(5, '0')}`);
    expect(lastHadItAtKill, 'the worker was killed mid-fanout').toBe(false);

    await startWorker();
    const followers = Array.from({ length: FOLLOWERS }, (_, index) => `f${String(index).padStart(5, '0')}`);
    await waitFor(
      async () => (await Promise.all(followers.map(has))).every(Boolean),
      'every follower to get the post from the second worker',
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const sizes = await Promise.all(
      followers.map((follower) => built.parts.sets.zcard(`feed:write:${follower}`)),
    );
    expect(new Set(sizes)).toEqual(new Set([1]));
  });
});
