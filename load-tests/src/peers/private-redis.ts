/**
 * A Redis of the benchmark's own: `redis-server` on a free port, no persistence, removed when the run
 * ends. Server time per decision comes from INFO commandstats, which counts every client's commands: on
 * the shared Redis other work would be counted too. Without the binary, the shared REDIS_URL is used and
 * the report says so.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { freePort, withTempDir } from '@sysdesign/testkit';
import { Redis } from 'ioredis';

const START_TIMEOUT_MS = 10_000;

export interface BenchRedis {
  url: string;
  /** True when the server is this run's own (commandstats count only its commands). */
  isPrivate: boolean;
}

export async function withBenchRedis<Result>(
  log: (line: string) => void,
  body: (redis: BenchRedis | undefined) => Promise<Result>,
): Promise<Result> {
  const binary = findRedisServer();
  if (binary === undefined) {
    const shared = process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL;
    if (shared) log(`no redis-server on PATH: using ${redactUrl(shared)}, shared with other work`);
    return body(shared ? { url: shared, isPrivate: false } : undefined);
  }
  return withTempDir('peers-redis-', async (dir) => {
    const port = await freePort();
    const server = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    try {
      const url = `redis://127.0.0.1:${port}`;
      await waitForPing(url, server);
      log(`private redis-server on port ${port}`);
      return await body({ url, isPrivate: true });
    } finally {
      await stopServer(server);
    }
  });
}

function findRedisServer(): string | undefined {
  for (const directory of (process.env.PATH ?? '').split(':')) {
    const candidate = `${directory}/redis-server`;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

async function waitForPing(url: string, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`redis-server exited with code ${server.exitCode}`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`redis-server did not answer within ${START_TIMEOUT_MS} ms`);
}

function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    server.once('exit', () => resolve());
    server.kill('SIGTERM');
  });
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
