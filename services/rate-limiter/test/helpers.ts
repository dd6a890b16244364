import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, loadConfig, type ServiceApp } from '@sysdesign/platform';
import { freePort, tempDir, waitFor } from '@sysdesign/testkit';
import { configSchema } from '../src/config.js';
import { type BuildOptions, buildService } from '../src/service.js';

/** Builds the service the way main.ts does, from an environment (silent logs, no file watching unless asked). */
export async function buildFromEnv(
  env: Record<string, string>,
  options: BuildOptions = {},
): Promise<ServiceApp> {
  const config = loadConfig(configSchema, { LOG_LEVEL: 'silent', RULES_WATCH: 'false', ...env });
  return buildService(config, { logger: createLogger('silent') }, options);
}

export interface CheckBody {
  allowed: boolean;
  reason: string;
  rule: string | null;
  name: string | null;
  algorithm: string | null;
  shadowMode: boolean;
  limit: number | null;
  remaining: number | null;
  resetAfterMs: number | null;
  retryAfterMs: number | null;
  delayMs: number | null;
}

export async function check(app: ServiceApp, domain: string, descriptors: [string, string][], hits?: number) {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/check',
    payload: {
      domain,
      descriptors: descriptors.map(([key, value]) => ({ key, value })),
      ...(hits === undefined ? {} : { hits }),
    },
  });
  return { status: response.statusCode, headers: response.headers, body: response.json<CheckBody>() };
}

/** The value of one series in /metrics (0 when absent). */
export async function metricValue(app: ServiceApp, series: RegExp): Promise<number> {
  const text = (await app.inject({ url: '/metrics' })).body;
  const line = text.split('\n').find((candidate) => series.test(candidate));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * A temporary directory holding one rules file (testkit removes it after the test, or at exit when
 * made in a beforeAll); `remove()` deletes it earlier, as a test of a vanished file needs.
 */
export async function rulesDir(
  yaml: string,
): Promise<{ file: string; write(yaml: string): Promise<void>; remove(): Promise<void> }> {
  const dir = await tempDir('rate-limiter-rules-');
  const file = join(dir, 'rules.yaml');
  await writeFile(file, yaml);
  return {
    file,
    write: (next) => writeFile(file, next),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

const REDIS_SERVER_PATHS = [
  '/usr/bin/redis-server',
  '/usr/local/bin/redis-server',
  '/opt/homebrew/bin/redis-server',
];

/** Where a redis-server binary is, or why there is none (the outage test then skips, saying so). */
export function redisServerBinary(): { path: string } | { reason: string } {
  const path = process.env.REDIS_SERVER_BIN ?? REDIS_SERVER_PATHS.find((candidate) => existsSync(candidate));
  return path
    ? { path }
    : { reason: `no redis-server binary (looked in ${REDIS_SERVER_PATHS.join(', ')}; set REDIS_SERVER_BIN)` };
}

/** A Redis of the test's own, in a child process, that the test may kill and start again. */
export class OwnRedis {
  private child: ChildProcess | undefined;

  private constructor(
    private readonly binary: string,
    readonly port: number,
  ) {}

  static async start(binary: string): Promise<OwnRedis> {
    const redis = new OwnRedis(binary, await freePort());
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    const child = spawn(
      this.binary,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += String(chunk);
    });
    await waitFor(
      () => output.includes('Ready to accept connections') || child.exitCode !== null,
      'redis-server to start',
      {
        timeoutMs: 10_000,
      },
    );
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
  }

  /** SIGKILL: the server vanishes mid-run, as a crash would. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }
}
