/**
 * The entry point of a target child process (forked by `startTarget`, never run by hand):
 * `target-runner.ts <module-url> <export-name>`. It builds the target, listens on 127.0.0.1 on a free
 * port, reports the port over IPC, and closes everything when the parent says stop.
 */
import type { BenchTarget } from './target.js';
import { isParentMessage, type RunnerMessage } from './target-protocol.js';

const BENCH_HOST = '127.0.0.1';

function send(message: RunnerMessage): Promise<void> {
  return new Promise((resolveSend) => {
    if (!process.send) return resolveSend();
    process.send(message, undefined, {}, () => resolveSend());
  });
}

function assertBenchTarget(value: unknown, label: string): asserts value is BenchTarget {
  const app = typeof value === 'object' && value !== null && 'app' in value ? value.app : undefined;
  const usable =
    typeof app === 'object' &&
    app !== null &&
    'listen' in app &&
    typeof app.listen === 'function' &&
    'close' in app &&
    typeof app.close === 'function';
  if (!usable) throw new Error(`${label} must resolve to { app, close? } where app has listen() and close()`);
}

async function loadTarget(moduleUrl: string, exportName: string): Promise<BenchTarget> {
  const module: Record<string, unknown> = await import(moduleUrl);
  const factory = module[exportName];
  const label = `${moduleUrl}#${exportName}`;
  if (typeof factory !== 'function') throw new Error(`${label} is not an exported function`);
  const target: unknown = await factory();
  assertBenchTarget(target, label);
  return target;
}

function listeningPort(target: BenchTarget, listenResult: unknown): number {
  const address = target.app.server?.address();
  if (typeof address === 'object' && address !== null) return address.port;
  if (typeof listenResult === 'string' && URL.canParse(listenResult)) {
    const port = Number(new URL(listenResult).port);
    if (port > 0) return port;
  }
  throw new Error('the target listened, but its port could not be read (no app.server.address(), no URL)');
}

async function stop(target: BenchTarget): Promise<void> {
  try {
    await target.app.close();
    await target.close?.();
    process.exit(0);
  } catch (error) {
    process.stderr.write(`bench target failed to close: ${error instanceof Error ? error.stack : error}\n`);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  // The parent is gone (crashed or killed): a target must never outlive the benchmark that started it.
  process.on('disconnect', () => process.exit(1));
  const [moduleUrl, exportName] = process.argv.slice(2);
  if (!moduleUrl || !exportName) throw new Error('usage: target-runner.ts <module-url> <export-name>');
  const target = await loadTarget(moduleUrl, exportName);
  const listenResult = await target.app.listen({ host: BENCH_HOST, port: 0 });
  process.on('message', (message: unknown) => {
    if (isParentMessage(message)) void stop(target);
  });
  await send({ type: 'ready', port: listeningPort(target, listenResult) });
}

main().catch(async (error: unknown) => {
  await send({
    type: 'failed',
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  process.exit(1);
});
