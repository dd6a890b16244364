import { type ChildProcess, spawn } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { onTestFinished } from 'vitest';
import { runCommand } from './command.js';
import { freePort } from './ports.js';
import { tempDir } from './temp-dir.js';
import { waitFor } from './wait.js';

/**
 * Private Redis and PostgreSQL servers for the tests that must restart, kill or flush a server:
 * the shared ones serve every test file at once and are never touched that way. Each server runs
 * from Debian's binaries on a free port of 127.0.0.1 with its files in a temporary directory, as
 * a child process in its own process group (so a kill takes the PostgreSQL backends with it).
 * Made in a test, it is killed and its directory removed when the test ends, failed or not; made
 * outside one (a beforeAll), stop it in the afterAll (the kill at process exit is a last resort).
 */

const DEFAULT_START_TIMEOUT_MS = 30_000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const OUTPUT_TAIL_CHARS = 4_000;
/** Tries with a fresh port when another process took the free one first. */
const PORT_ATTEMPTS_MAX = 3;
const READY_POLL_MS = 50;

export interface PrivateServer {
  /** Where a client connects: `redis://127.0.0.1:<port>` or `postgres://postgres@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  readonly port: number;
  /** The server's files (Redis: its dir; PostgreSQL: the cluster is in `<dir>/data`). */
  readonly dir: string;
  readonly running: boolean;
  /** The server's process id (PostgreSQL: the postmaster's) while it runs. */
  readonly pid: number | undefined;
  /** The server's last few thousand characters of output, for a failure message. */
  output(): string;
  /** Starts it again on the same port and files after a stop or a kill. */
  start(): Promise<void>;
  /** A clean shutdown (Redis SIGTERM, PostgreSQL fast shutdown), waiting for the exit. */
  stop(): Promise<void>;
  /** SIGKILL to the whole process group: a crash, nothing flushed. */
  kill(): Promise<void>;
  /** `stop()` then `start()`. */
  restart(): Promise<void>;
}

interface ServerSpec {
  name: string;
  command: string;
  args: readonly string[];
  /** Runs the server as this user (PostgreSQL refuses root). */
  user: { uid: number; gid: number } | undefined;
  cwd: string;
  stopSignal: NodeJS.Signals;
  ready(): Promise<boolean>;
  startTimeoutMs: number;
}

/** Children alive in this process, killed at exit if a caller left one running. */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

class ServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private outputTail = '';

  constructor(private readonly spec: ServerSpec) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  output(): string {
    return this.outputTail;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.spec.name} is already running`);
    const { command, args, user } = this.spec;
    const child = spawn(command, args, {
      detached: true,
      cwd: this.spec.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    this.child = child;
    const pid = child.pid;
    if (pid !== undefined) liveGroups.add(pid);
    installExitHook();
    this.exited = new Promise((resolve) =>
      child.once('close', () => {
        if (pid !== undefined) liveGroups.delete(pid);
        resolve();
      }),
    );
    const keep = (chunk: Buffer) => {
      this.outputTail = (this.outputTail + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('error', (error) => keep(Buffer.from(`spawn failed: ${error.message}\n`)));
    try {
      await waitFor(
        async () => {
          if (!this.running)
            throw new Error(`${this.spec.name} exited before it was ready:\n${this.outputTail}`);
          return this.spec.ready();
        },
        `${this.spec.name} to accept connections (output: ${this.outputTail})`,
        { timeoutMs: this.spec.startTimeoutMs, intervalMs: READY_POLL_MS },
      );
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  async stop(): Promise<void> {
    const pid = this.child?.pid;
    if (!this.running || pid === undefined) return this.exited;
    this.child?.kill(this.spec.stopSignal);
    const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), DEFAULT_STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
    // What the server started and left behind goes too.
    killGroup(pid, 'SIGKILL');
  }

  async kill(): Promise<void> {
    const pid = this.child?.pid;
    if (pid !== undefined) killGroup(pid, 'SIGKILL');
    await this.exited;
  }
}

/** Starts `make(port)` on a free port, trying another when the port was taken meanwhile. */
async function startOnFreePort(
  make: (port: number) => ServerProcess,
): Promise<{ server: ServerProcess; port: number }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS_MAX; attempt++) {
    const port = await freePort();
    const server = make(port);
    try {
      await server.start();
      return { server, port };
    } catch (error) {
      lastError = error;
      if (!/address already in use|could not bind/i.test(server.output())) throw error;
    }
  }
  throw lastError;
}

function asPrivateServer(server: ServerProcess, url: string, port: number, dir: string): PrivateServer {
  const handle: PrivateServer = {
    url,
    port,
    dir,
    get running() {
      return server.running;
    },
    get pid() {
      return server.pid;
    },
    output: () => server.output(),
    start: () => server.start(),
    stop: () => server.stop(),
    kill: () => server.kill(),
    restart: async () => {
      await server.stop();
      await server.start();
    },
  };
  try {
    onTestFinished(() => server.kill());
  } catch {
    // Outside a test: the caller stops it; the exit hook kills what is left.
  }
  return handle;
}

export interface PrivateRedisOptions {
  /** `appendonly yes`: writes survive a restart or a kill (fsync every second). Default off. */
  appendOnly?: boolean;
  /** More `redis-server` arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: readonly string[];
  startTimeoutMs?: number;
}

/**
 * A `redis-server` of its own: RDB snapshots off (`--save ""`), the append-only file as asked,
 * bound to 127.0.0.1. `FLUSHALL`, `DEBUG SLEEP`, a kill: all fine here.
 */
export async function privateRedis(options: PrivateRedisOptions = {}): Promise<PrivateServer> {
  const dir = await tempDir('private-redis-');
  const { server, port } = await startOnFreePort(
    (port) =>
      new ServerProcess({
        name: `redis-server on port ${port}`,
        command: 'redis-server',
        args: [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          options.appendOnly ? 'yes' : 'no',
          '--daemonize',
          'no',
          ...(options.args ?? []),
        ],
        user: undefined,
        cwd: dir,
        stopSignal: 'SIGTERM',
        ready: () => redisAnswers(port),
        startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      }),
  );
  return asPrivateServer(server, `redis://127.0.0.1:${port}`, port, dir);
}

async function redisAnswers(port: number): Promise<boolean> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1_000,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export interface PrivatePostgresOptions {
  /** Server settings, passed as `-c name=value`: `{ max_prepared_transactions: 10 }`. */
  settings?: Record<string, string | number | boolean>;
  startTimeoutMs?: number;
}

/** Settings every private cluster gets unless the caller overrides them: small, local only. */
const BASE_POSTGRES_SETTINGS: Record<string, string> = {
  listen_addresses: '127.0.0.1',
  max_connections: '40',
  shared_buffers: '16MB',
};

/**
 * A PostgreSQL cluster of its own: `initdb` (trust auth, user `postgres`) into a temporary
 * directory, then `postgres` on a free port with its socket in that directory. The binaries are
 * `$(pg_config --bindir)`, else the newest /usr/lib/postgresql/<version>/bin. Running as root, the
 * cluster belongs to and runs as the `postgres` OS user (PostgreSQL refuses to run as root).
 */
export async function privatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivateServer> {
  const bindir = await postgresBindir();
  const user = process.getuid?.() === 0 ? postgresOsUser() : undefined;
  const dir = await tempDir('private-postgres-');
  if (user) chownSync(dir, user.uid, user.gid);
  const dataDir = join(dir, 'data');
  await runCommand(
    join(bindir, 'initdb'),
    ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions'],
    // The server's user may not read this process's working directory.
    { cwd: dir, ...(user ? { uid: user.uid, gid: user.gid } : {}) },
  );
  const settings = { ...BASE_POSTGRES_SETTINGS, ...stringValues(options.settings ?? {}) };
  const { server, port } = await startOnFreePort((port) => {
    const url = postgresUrl(port);
    return new ServerProcess({
      name: `postgres on port ${port}`,
      command: join(bindir, 'postgres'),
      args: [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-k',
        dir,
        ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
      ],
      user,
      cwd: dir,
      // SIGINT is PostgreSQL's fast shutdown: open sessions are ended, not waited for.
      stopSignal: 'SIGINT',
      ready: () => postgresAnswers(url),
      startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    });
  });
  return asPrivateServer(server, postgresUrl(port), port, dir);
}

function postgresUrl(port: number): string {
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

function stringValues(settings: Record<string, string | number | boolean>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(settings)) {
    if (!/^[a-z_][a-z0-9_.]*$/i.test(name)) throw new Error(`not a PostgreSQL setting name: ${name}`);
    result[name] = typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
  }
  return result;
}

async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

let bindirFound: Promise<string> | undefined;

/** Where `initdb` and `postgres` live. */
export function postgresBindir(): Promise<string> {
  bindirFound ??= (async () => {
    try {
      const bindir = (await runCommand('pg_config', ['--bindir'])).trim();
      if (existsSync(join(bindir, 'initdb'))) return bindir;
    } catch {
      // No pg_config on PATH: look where Debian puts the server.
    }
    const root = '/usr/lib/postgresql';
    const versions = existsSync(root)
      ? readdirSync(root)
          .filter((version) => existsSync(join(root, version, 'bin', 'initdb')))
          .sort((left, right) => Number(right) - Number(left))
      : [];
    if (versions.length === 0) throw new Error('no PostgreSQL server binaries: install postgresql');
    return join(root, versions[0]!, 'bin');
  })();
  return bindirFound;
}

/** The `postgres` OS user's ids, from /etc/passwd. */
function postgresOsUser(): { uid: number; gid: number } {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === 'postgres') return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error('running as root, and there is no postgres OS user to run PostgreSQL as');
}
