import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommandFailedError, runCommand, tempDir, withFileLock } from '../src/index.js';

describe('withFileLock', () => {
  it('makes a second holder wait until the first has finished', async () => {
    const path = join(await tempDir('file-lock-'), 'lock');
    const events: string[] = [];
    let releaseFirst = (): void => {};
    const first = withFileLock(path, async () => {
      events.push('first in');
      await new Promise<void>((resolve) => {
        releaseFirst = resolve;
      });
      events.push('first out');
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = withFileLock(path, async () => {
      events.push('second in');
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(events).toEqual(['first in']);
    releaseFirst();
    await Promise.all([first, second]);
    expect(events).toEqual(['first in', 'first out', 'second in']);
    expect(existsSync(path)).toBe(false);
  });

  it('takes over a lock left by a process that has exited, as after kill -9', async () => {
    const path = join(await tempDir('file-lock-'), 'lock');
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(path, `${gone} left-behind\n`);
    await expect(withFileLock(path, async () => 'ran', { timeoutMs: 2_000 })).resolves.toBe('ran');
  });

  it('gives up after its timeout, naming what it waited for and the live holder', async () => {
    const path = join(await tempDir('file-lock-'), 'lock');
    writeFileSync(path, `${process.ppid} held\n`);
    await expect(
      withFileLock(path, async () => 'ran', { timeoutMs: 200, purpose: 'the pack lock' }),
    ).rejects.toThrow(`waiting for the pack lock (${path}, held by ${process.ppid})`);
  });

  it('releases the lock when its body throws', async () => {
    const path = join(await tempDir('file-lock-'), 'lock');
    await expect(
      withFileLock(path, async () => {
        throw new Error('body failed');
      }),
    ).rejects.toThrow('body failed');
    expect(existsSync(path)).toBe(false);
  });
});

describe('runCommand', () => {
  it('reports how a failed command ended and both of its outputs (pnpm and tsc print errors to stdout)', async () => {
    const script = "console.log('tsc says TS2307'); console.error('warned'); process.exit(3)";
    const failure = await runCommand(process.execPath, ['-e', script]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CommandFailedError);
    expect((failure as Error).message).toContain('failed (exit code 3)');
    expect((failure as Error).message).toContain('--- stdout\ntsc says TS2307');
    expect((failure as Error).message).toContain('--- stderr\nwarned');
  });

  it('resolves with the stdout of a command that succeeds', async () => {
    await expect(runCommand(process.execPath, ['-e', "process.stdout.write('ok')"])).resolves.toBe('ok');
  });
});
