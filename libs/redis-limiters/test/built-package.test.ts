import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  deleteRedisPrefix,
  freshRedisPrefix,
  type InstalledPackage,
  installPacked,
  OUTSIDE_COMMAND_TIMEOUT_MS,
  PACK_TIMEOUT_MS,
  packPackage,
  RESOLUTIONS,
  runNode,
  typecheckConsumer,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as an outside project gets it (testkit's `packPackage`): imported by a plain `node`
 * script with no export conditions, and typechecked under NodeNext, Bundler and Node10 resolution,
 * with its peers and without them. With REDIS_URL set, the script also runs every Lua script from
 * the installed package.
 */

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const PEERS = ['ioredis', 'fastify', 'fastify-plugin'];

const CHECK_SCRIPT = `
import { ALGORITHMS, MemoryLimiter, RedisLimiter } from '@sysdesign/redis-limiters';
import rateLimit from '@sysdesign/redis-limiters/fastify';
import Fastify from 'fastify';
import { Redis } from 'ioredis';

const output = {};
const memory = new MemoryLimiter({ algorithm: 'gcra', limit: 2, windowMs: 60000 }, { name: 'outside' });
output.memory = [];
for (let call = 0; call < 3; call++) output.memory.push((await memory.limit('k')).allowed);

const app = Fastify();
await app.register(rateLimit, { policy: { algorithm: 'token_bucket', limit: 1, windowMs: 60000 } });
app.get('/', async () => 'ok');
output.http = [];
for (let call = 0; call < 2; call++) {
  const response = await app.inject({ url: '/' });
  output.http.push([response.statusCode, response.headers['ratelimit-policy']]);
}
await app.close();

if (process.env.CHECK_REDIS_URL) {
  const redis = new Redis(process.env.CHECK_REDIS_URL);
  output.redis = {};
  for (const algorithm of ALGORITHMS) {
    // A generous timeout: this checks that the scripts run, not how fast a loaded test machine answers.
    const limiter = new RedisLimiter(redis, { algorithm, limit: 1, windowMs: 60000 }, { name: 'outside', prefix: process.env.CHECK_PREFIX, timeoutMs: 10000 });
    output.redis[algorithm] = [(await limiter.limit('k')).allowed, (await limiter.limit('k')).allowed];
  }
  redis.disconnect();
}
console.log(JSON.stringify(output));
`;

const CONSUMER_TS = `
import { createLimiter, LimiterErrorCode, MemoryLimiter, RedisLimiter, type LimitResult, type RedisClient } from '@sysdesign/redis-limiters';
import rateLimit, { keyBy, type RateLimitErrorContext, type RateLimitPluginOptions } from '@sysdesign/redis-limiters/fastify';
import { Redis } from 'ioredis';

const memory = new MemoryLimiter({ algorithm: 'gcra', limit: 2, windowMs: 60_000 }, { name: 'outside' });
const client: RedisClient = new Redis({ lazyConnect: true });
const shared = new RedisLimiter(client, { algorithm: 'token_bucket', limit: 1, windowMs: 1_000 }, { name: 'outside' });
const options: RateLimitPluginOptions = {
  key: keyBy.ip,
  errorResponseBuilder: (_request, context: RateLimitErrorContext) => new Error(context.detail),
};
export async function check(): Promise<[LimitResult, string, unknown, unknown, unknown]> {
  return [await memory.limit('k', { cost: 0 }), LimiterErrorCode.RATE_LIMITED, shared, options, [rateLimit, createLimiter]];
}
`;

/** Without ioredis and fastify installed, the root still typechecks: both are optional peers. */
const MEMORY_ONLY_TS = `
import { MemoryLimiter, type LimitResult } from '@sysdesign/redis-limiters';
const limiter = new MemoryLimiter({ algorithm: 'fixed_window', limit: 1, windowMs: 1_000 }, { name: 'alone' });
export const first: Promise<LimitResult> = limiter.limit('k');
`;

describe('the published package', () => {
  let project: InstalledPackage;
  let memoryOnly: InstalledPackage;
  const redisPrefix = freshRedisPrefix('limiter-built');

  beforeAll(async () => {
    // One pack, two outside projects: with the peers installed, and with neither.
    const packed = await packPackage(packageDir);
    project = await installPacked(packed, { links: [...PEERS, '@types/node'] });
    memoryOnly = await installPacked(packed);
  }, PACK_TIMEOUT_MS);

  afterAll(async () => {
    await project?.remove();
    await memoryOnly?.remove();
    if (process.env.REDIS_URL) await deleteRedisPrefix(process.env.REDIS_URL, redisPrefix);
  });

  it('ships dist, the readable .lua commands, README and LICENSE; exports point only at dist', async () => {
    // No source condition or src/ path may leak into the published manifest; no source maps ship.
    const manifest = JSON.parse(await readFile(join(project.installedDir, 'package.json'), 'utf8'));
    const extra = project.packedFiles.filter(
      (file) =>
        !/^(dist\/[\w/-]+\.(js|d\.ts)|commands\/[\w/-]+\.lua|package\.json|README\.md|LICENSE)$/.test(file),
    );
    expect(extra).toEqual([]);
    expect(project.packedFiles.filter((file) => /^commands\/[\w-]+\.lua$/.test(file))).toHaveLength(6);
    expect(JSON.stringify(manifest.exports)).not.toContain('@sysdesign/source');
    const targets = [
      ...(JSON.stringify([manifest.exports, manifest.typesVersions]).match(/"\.\/dist\/[^"]+"/g) ?? []),
      `"${manifest.main}"`,
      `"${manifest.types}"`,
    ].map((target) => target.slice(3, -1));
    for (const target of targets) expect(project.packedFiles).toContain(target);
    expect(manifest.peerDependenciesMeta).toEqual({
      fastify: { optional: true },
      ioredis: { optional: true },
    });
  });

  it(
    'works from a plain node script, with the Lua scripts from the generated module',
    async () => {
      // No export conditions, no tsx: exactly what a user of the published package runs.
      const output = JSON.parse(
        await runNode(project, CHECK_SCRIPT, {
          CHECK_REDIS_URL: process.env.REDIS_URL ?? '',
          CHECK_PREFIX: redisPrefix,
        }),
      ) as { memory: boolean[]; http: unknown[]; redis?: Record<string, boolean[]> };
      expect(output.memory).toEqual([true, true, false]);
      expect(output.http).toEqual([
        [200, '"default";q=1;w=60'],
        [429, '"default";q=1;w=60'],
      ]);
      if (process.env.REDIS_URL) {
        expect(Object.values(output.redis!)).toEqual(Array(6).fill([true, false]));
      } else {
        console.warn(
          '[built-package] REDIS_URL not set: the Lua scripts were not run from the installed package',
        );
      }
    },
    OUTSIDE_COMMAND_TIMEOUT_MS,
  );

  it.each(RESOLUTIONS)(
    'typechecks a strict consumer of the root and /fastify under %s resolution',
    async (resolution) => {
      expect(await typecheckConsumer(project, resolution, CONSUMER_TS, { types: ['node'] })).toBe('');
    },
    OUTSIDE_COMMAND_TIMEOUT_MS,
  );

  it.each(RESOLUTIONS)(
    'typechecks a memory-only consumer with neither peer installed under %s',
    async (resolution) => {
      expect(await typecheckConsumer(memoryOnly, resolution, MEMORY_ONLY_TS)).toBe('');
    },
    OUTSIDE_COMMAND_TIMEOUT_MS,
  );
});
