import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_TARGET_EXPORT, isRunnerMessage, type ParentMessage } from './target-protocol.js';

/** A cold start compiles TypeScript and may boot PGlite (about 4 s): leave room, but not forever. */
const START_TIMEOUT_MS = 60_000;
/** A target that has not drained and exited by then is killed. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * What a target module's factory returns. `app` is anything that listens and closes the way Fastify
 * does; `close` releases whatever else the factory built (databases, workers) after the app closed.
 */
export interface BenchTarget {
  app: BenchApp;
  close?: () => Promise<void>;
}

export interface BenchApp {
  listen(options: { host: string; port: number }): Promise<unknown>;
  close(): unknown;
  /** Fastify exposes its node server here; the runner reads the bound port from it. */
  server?: { address(): { port: number } | string | null };
}

/** Which module to start, and which export of it builds the target (default `createBenchTarget`). */
export interface TargetSpec {
  /** A file URL (`new URL('./target.ts', import.meta.url)` is the robust choice), an absolute path, or a
   * path relative to the working directory. */
  modulePath: string | URL;
  exportName?: string;
}

/** A target listening in its own child process. */
export interface RunningTarget {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string;
  readonly pid: number;
  /** True once the child has exited, whether asked to or not. */
  readonly exited: boolean;
  /** Asks the child to close its app and exit; kills it if it does not within 10 s. Idempotent. */
  stop(): Promise<void>;
}

const runnerPath = fileURLToPath(new URL('./target-runner.ts', import.meta.url));
/** Resolved from here, not from the working directory, so a service folder without tsx still works. */
const tsxLoaderUrl = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Every child not yet exited, killed if this process exits first: a benchmark never leaves orphans. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
  });
}

function targetModuleUrl(modulePath: string | URL): string {
  if (modulePath instanceof URL) return modulePath.href;
  if (modulePath.startsWith('file:')) return modulePath;
  return pathToFileURL(isAbsolute(modulePath) ? modulePath : resolve(modulePath)).href;
}

/**
 * Forks a child that imports the target module through tsx (with the `@sysdesign/source` condition, so
 * workspace packages resolve to their sources), calls its factory, and listens on 127.0.0.1 on a free
 * port. Resolves once the child reports the port.
 */
export async function startTarget(spec: TargetSpec): Promise<RunningTarget> {
  installExitHook();
  const moduleUrl = targetModuleUrl(spec.modulePath);
  const exportName = spec.exportName ?? DEFAULT_TARGET_EXPORT;
  const child = fork(runnerPath, [moduleUrl, exportName], {
    execArgv: ['--import', tsxLoaderUrl, '--conditions=@sysdesign/source'],
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    // The child's stdout goes to our stderr: stdout carries the report and nothing else.
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  liveChildren.add(child);
  const exitedPromise = new Promise<void>((resolveExit) => {
    const settle = () => {
      liveChildren.delete(child);
      resolveExit();
    };
    child.once('exit', settle);
    // A child that never spawned emits 'error' and no 'exit'.
    child.once('error', () => {
      if (child.pid === undefined) settle();
    });
  });
  try {
    const port = await waitForReady(child, `${moduleUrl}#${exportName}`);
    return runningTarget(child, port, exitedPromise);
  } catch (error) {
    await killAndWait(child, exitedPromise);
    throw error;
  }
}

function waitForReady(child: ChildProcess, label: string): Promise<number> {
  return new Promise<number>((resolveReady, rejectReady) => {
    const timer = setTimeout(() => {
      finish();
      rejectReady(new Error(`bench target ${label} did not listen within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    const onMessage = (message: unknown) => {
      if (!isRunnerMessage(message)) return;
      finish();
      if (message.type === 'ready') resolveReady(message.port);
      else rejectReady(new Error(`bench target ${label} failed to start:\n${message.error}`));
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      finish();
      rejectReady(
        new Error(`bench target ${label} exited before listening (code ${code}, signal ${signal})`),
      );
    };
    const onError = (error: Error) => {
      finish();
      rejectReady(new Error(`bench target ${label} could not be started: ${error.message}`));
    };
    function finish() {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

function runningTarget(child: ChildProcess, port: number, exitedPromise: Promise<void>): RunningTarget {
  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    get exited() {
      return child.exitCode !== null || child.signalCode !== null;
    },
    stop() {
      stopping ??= stopChild(child, exitedPromise);
      return stopping;
    },
  };
}

async function stopChild(child: ChildProcess, exitedPromise: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (!child.connected) return killAndWait(child, exitedPromise);
  const stopMessage: ParentMessage = { type: 'stop' };
  child.send(stopMessage);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout('timeout'), STOP_TIMEOUT_MS);
  });
  const outcome = await Promise.race([exitedPromise, timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    process.stderr.write(
      `bench target pid ${child.pid} did not exit within ${STOP_TIMEOUT_MS} ms: killing it\n`,
    );
    await killAndWait(child, exitedPromise);
  }
}

async function killAndWait(child: ChildProcess, exitedPromise: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exitedPromise;
}
