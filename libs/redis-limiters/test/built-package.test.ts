import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  deleteRedisPrefix,
  freshRedisPrefix,
  type InstalledPackage,
  packAndInstall,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The package as an outside project gets it: built with tsc, packed with `pnpm pack` (which
 * applies publishConfig), unpacked into a temporary project's node_modules, and imported by a
 * plain `node` script with no export conditions. With REDIS_URL set, the script also runs every
 * Lua script, proving the `commands/` files ship and load from the installed location.
 */

const run = promisify(execFile);
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
    const limiter = new RedisLimiter(redis, { algorithm, limit: 1, windowMs: 60000 }, { name: 'outside', prefix: process.env.CHECK_PREFIX });
    output.redis[algorithm] = [(await limiter.limit('k')).allowed, (await limiter.limit('k')).allowed];
  }
  redis.disconnect();
}
console.log(JSON.stringify(output));
`;

interface PackedManifest {
  exports: Record<string, Record<string, string>>;
  files: string[];
}

describe('the published package', () => {
  let installed: InstalledPackage | undefined;
  let projectDir: string;
  let installedDir: string;
  let manifest: PackedManifest;
  const redisPrefix = freshRedisPrefix('limiter-built');

  beforeAll(async () => {
    // The peers linked as the outside project would have installed them.
    installed = await packAndInstall(packageDir, { build: true, links: PEERS });
    ({ projectDir, installedDir } = installed);
    await writeFile(join(projectDir, 'check.mjs'), CHECK_SCRIPT);
    manifest = JSON.parse(await readFile(join(installedDir, 'package.json'), 'utf8')) as PackedManifest;
  });

  afterAll(async () => {
    await installed?.remove();
    if (process.env.REDIS_URL) await deleteRedisPrefix(process.env.REDIS_URL, redisPrefix);
  });

  it('publishes an exports map that points only at dist, with types, and ships dist and commands only', async () => {
    // No source condition or src/ path may leak into the published manifest.
    const targets = Object.values(manifest.exports).flatMap((conditions) => Object.entries(conditions));
    expect(targets.map(([condition]) => condition).sort()).toEqual(['default', 'default', 'types', 'types']);
    for (const [, target] of targets) {
      expect(target).toMatch(/^\.\/dist\//);
      await expect(readFile(join(installedDir, target))).resolves.toBeDefined();
    }
    const shipped = await readdir(installedDir);
    expect(shipped.sort()).toEqual(['README.md', 'commands', 'dist', 'package.json'].sort());
    const commands = await readdir(join(installedDir, 'commands'));
    expect(commands.filter((name) => name.endsWith('.lua'))).toHaveLength(6);
  });

  it('works from a plain node script, with the Lua scripts loaded from the installed package', async () => {
    // No export conditions, no tsx: exactly what a user of the published package runs.
    const { NODE_OPTIONS: _ignored, ...env } = process.env;
    const { stdout } = await run(process.execPath, ['check.mjs'], {
      cwd: projectDir,
      env: { ...env, CHECK_REDIS_URL: process.env.REDIS_URL ?? '', CHECK_PREFIX: redisPrefix },
    });
    const output = JSON.parse(stdout) as {
      memory: boolean[];
      http: unknown[];
      redis?: Record<string, boolean[]>;
    };
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
  });
});
