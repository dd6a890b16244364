import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import { type FsyncMode, StorageEngine } from '../../src/storage/index.js';
import { testOptions, text, useTempDirs } from './helpers.js';

const temp = useTempDirs();
const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/write-loop.ts', import.meta.url));
/** How long the child may take to start (tsx compiles on the fly) and reach the kill point. */
const CHILD_TIMEOUT_MS = 25_000;

interface Acknowledged {
  operation: number;
  kind: 'put' | 'del';
}

/**
 * Runs the write loop in a child process, SIGKILLs it after `killAfterAcks` acknowledgements
 * (reading every line it printed before dying), and returns the newest acknowledged operation per key.
 */
async function runAndKill(
  dir: string,
  fsync: FsyncMode,
  killAfterAcks: number,
): Promise<{ acknowledged: Map<string, Acknowledged>; acks: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@sysdesign/source', fixture, dir, fsync],
    {
      cwd: packageRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const acknowledged = new Map<string, Acknowledged>();
  let acks = 0;
  let stderr = '';
  let partial = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('close', (_code, signal) => resolve(signal)),
  );
  const timeout = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const [tag, operation, kind, key] = line.split(' ');
      if (tag !== 'ack') continue;
      acks++;
      const previous = acknowledged.get(key!);
      if (previous === undefined || Number(operation) > previous.operation) {
        acknowledged.set(key!, { operation: Number(operation), kind: kind as Acknowledged['kind'] });
      }
      if (acks === killAfterAcks) child.kill('SIGKILL');
    }
  });
  const signal = await exited;
  clearTimeout(timeout);
  expect(signal, `child ended without SIGKILL: ${stderr}`).toBe('SIGKILL');
  expect(acks, `child was killed before ${killAfterAcks} acks (timeout?): ${stderr}`).toBeGreaterThanOrEqual(
    killAfterAcks,
  );
  return { acknowledged, acks };
}

/** The operation number a stored version came from: `<op>:...` for puts, `<op>` in a tombstone's metadata. */
function operationOf(stored: { kind: string; value: Uint8Array }): number {
  return Number(text(stored.value)!.split(':')[0]);
}

describe('kill -9 in the middle of a write loop', () => {
  for (const [fsync, seed] of [
    ['always', 1],
    ['interval', 2],
  ] as Array<[FsyncMode, number]>) {
    it(`keeps every acknowledged write and delete (fsync=${fsync})`, async () => {
      // A child writes and prints each acknowledged op; SIGKILL at a random point, reopen here, and every key must hold
      // its last acknowledged version or a newer one (a write in flight may land), never an older one.
      const dir = await temp.dir();
      const killAfterAcks = 1_500 + Math.floor(seededRandom(seed)() * 1_500);
      const { acknowledged } = await runAndKill(dir, fsync, killAfterAcks);

      const engine = temp.track(await StorageEngine.open(testOptions(dir)));
      let deleted = 0;
      for (const [key, ack] of acknowledged) {
        const stored = await engine.get(key);
        expect(stored, `${key} lost (acknowledged op ${ack.operation})`).toBeDefined();
        expect(operationOf(stored!), key).toBeGreaterThanOrEqual(ack.operation);
        if (operationOf(stored!) === ack.operation)
          expect(stored!.kind).toBe(ack.kind === 'del' ? 'tombstone' : 'value');
        if (stored!.kind === 'tombstone') deleted++;
      }
      expect(deleted).toBeGreaterThan(0);
      // The directory is healthy: a second life writes, flushes, compacts and reopens.
      await engine.put('after-crash', Buffer.from('ok'));
      await engine.flush();
      await engine.compact({ major: true });
      await engine.close();
      const again = temp.track(await StorageEngine.open(testOptions(dir)));
      expect(text(await again.getValue('after-crash'))).toBe('ok');
      await again.close();
    });
  }

  it('refuses to open a directory a live process holds, and takes it over once that process is killed', async () => {
    // The child's LOCK names its live pid: open fails with KV_ERR_LOCKED; after SIGKILL the stale lock is taken over.
    const dir = await temp.dir();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=@sysdesign/source', fixture, dir, 'interval'],
      {
        cwd: packageRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const exited = new Promise((resolve) => child.on('close', resolve));
    const timeout = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ack ')) resolve();
      });
      child.on('close', () => resolve());
    });
    const refused = await StorageEngine.open(testOptions(dir)).catch((caught: unknown) => caught);
    child.kill('SIGKILL');
    await exited;
    clearTimeout(timeout);
    expect(refused).toMatchObject({ code: 'KV_ERR_LOCKED', details: { pid: child.pid } });
    const engine = temp.track(await StorageEngine.open(testOptions(dir)));
    expect(engine.recovery.recordsReplayed + engine.recovery.tablesOpened).toBeGreaterThan(0);
    await engine.close();
  });
});
