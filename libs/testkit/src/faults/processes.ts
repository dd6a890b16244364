import { type ChildProcess, spawn } from 'node:child_process';
import { onTestFinished } from 'vitest';
import { type ClusterSlot, startLocalCluster } from '../cluster.js';
import { waitFor } from '../wait.js';

/**
 * Nodes of a service as real child processes, for the faults one process cannot fake: kill -9
 * mid-write, a clean stop and a restart on the same data, and SIGSTOP, the pause a GC or a frozen
 * VM inflicts, after which the node wakes up believing no time has passed. Whatever a test does,
 * every child it started is killed when it ends, failed or not. A node made outside a test (a
 * beforeAll) is the caller's to stop in its afterAll: the kill at the process's exit is only a
 * last resort, since a worker ended by a signal runs no exit hook.
 */

/** tsx compiles the sources on the fly; workspace packages resolve to their sources. */
export const TSX_NODE_ARGUMENTS = ['--import', 'tsx', '--conditions=@sysdesign/source'] as const;

const DEFAULT_START_TIMEOUT_MS = 30_000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/** How much of a child's output is kept for a failure message. */
const OUTPUT_TAIL_CHARS = 4_000;

export interface NodeProcessOptions {
  /** The script to run, relative to `cwd`. */
  script: string;
  cwd: string;
  /** Added to this process's environment. */
  env?: Record<string, string> | undefined;
  /** Node's arguments before the script: tsx with the source condition unless given. */
  nodeArguments?: readonly string[] | undefined;
  /** Polled until it answers 200 after a start. */
  readyUrl: string;
  startTimeoutMs?: number | undefined;
  /** How long a SIGTERM may take before the node is killed. */
  stopTimeoutMs?: number | undefined;
}

export class NodeProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private outputTail = '';
  private resumeTimer: NodeJS.Timeout | undefined;
  private isPaused = false;

  constructor(private readonly options: NodeProcessOptions) {
    afterTest(() => this.kill());
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get paused(): boolean {
    return this.running && this.isPaused;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  /** The last few thousand characters the node wrote, stdout and stderr interleaved. */
  output(): string {
    return this.outputTail;
  }

  /**
   * Spawns the node (again, on the same data after a stop or kill) and waits until it is ready; a
   * node that does not get ready in time is killed, not left half-started.
   */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.options.script} is already running (pid ${this.pid})`);
    const child = spawn(
      process.execPath,
      [...(this.options.nodeArguments ?? TSX_NODE_ARGUMENTS), this.options.script],
      {
        cwd: this.options.cwd,
        env: { ...process.env, ...this.options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    this.isPaused = false;
    liveChildren.add(child);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => liveChildren.delete(child));
    const keep = (chunk: Buffer) => {
      this.outputTail = (this.outputTail + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    try {
      await this.waitReady();
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  /** Polls `url` until it answers 200; fails at once if the node exits, with its output. */
  async waitReady(url = this.options.readyUrl): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    await waitFor(
      async () => {
        if (!this.running) throw new Error(`${this.options.script} exited before ready:\n${this.outputTail}`);
        try {
          return (await fetch(url, { signal: AbortSignal.timeout(1_000) })).status === 200;
        } catch {
          return false;
        }
      },
      `${url} to be ready (output: ${this.outputTail})`,
      { timeoutMs, intervalMs: 50 },
    );
  }

  /** SIGKILL, and waits for the exit: no shutdown hook runs, unsynced writes are gone. */
  async kill(): Promise<void> {
    this.clearResumeTimer();
    if (this.running) this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (a paused node is woken to handle it) and waits; killed if it takes too long. */
  async stop(): Promise<void> {
    this.clearResumeTimer();
    if (!this.running) return this.exited;
    this.child?.kill('SIGTERM');
    if (this.isPaused) this.resume();
    const timeoutMs = this.options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGSTOP: the node stops answering but keeps its sockets. Resumes by itself after `durationMs`. */
  pause(durationMs?: number): void {
    if (!this.running) throw new Error(`${this.options.script} is not running: nothing to pause`);
    this.clearResumeTimer();
    this.child?.kill('SIGSTOP');
    this.isPaused = true;
    if (durationMs !== undefined) this.resumeTimer = setTimeout(() => this.resume(), durationMs);
  }

  /** SIGCONT: the node carries on where it stopped, its timers suddenly all overdue. */
  resume(): void {
    this.clearResumeTimer();
    if (this.running && this.isPaused) this.child?.kill('SIGCONT');
    this.isPaused = false;
  }

  private clearResumeTimer(): void {
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
  }
}

export interface ProcessClusterOptions extends Omit<NodeProcessOptions, 'env' | 'readyUrl'> {
  size: number;
  /** Each node's environment from its slot: its port, data directory and peers' URLs. */
  env: (slot: ClusterSlot) => Record<string, string>;
  /** Path polled for readiness on each node's URL; `/readyz` unless given. */
  readyPath?: string | undefined;
  dataDirPrefix?: string | undefined;
}

export interface ProcessCluster {
  /** In slot order. */
  nodes: NodeProcess[];
  /** Where each node lives, in the same order. */
  slots: ClusterSlot[];
  /** Stops every node, in parallel; a node that will not stop is killed. */
  stop(): Promise<void>;
  /** Kills every node, in parallel. */
  kill(): Promise<void>;
}

/**
 * `size` nodes of `script` as child processes on free ports of 127.0.0.1, each with its own data
 * directory, all started and ready; if one fails to start, the others are stopped.
 */
export async function startProcessCluster(options: ProcessClusterOptions): Promise<ProcessCluster> {
  const { size, env, readyPath = '/readyz', dataDirPrefix = 'process-node-', ...shared } = options;
  const slots: ClusterSlot[] = [];
  const local = await startLocalCluster(
    size,
    (slot) => {
      slots.push(slot);
      return new NodeProcess({ ...shared, env: env(slot), readyUrl: `${slot.url}${readyPath}` });
    },
    { dataDirPrefix },
  );
  const nodes = local.nodes;
  return {
    nodes,
    slots,
    stop: local.stop,
    kill: async () => {
      await Promise.all(nodes.map((node) => node.kill()));
    },
  };
}

/** Every child alive in this process, killed if it exits normally with some still running. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/** After the current test, or at the process's exit outside a test (a beforeAll). */
function afterTest(cleanup: () => Promise<void>): void {
  installExitHook();
  try {
    onTestFinished(cleanup);
  } catch {
    // Not inside a test: the exit hook covers it.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
  });
}
