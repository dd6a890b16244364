import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/fs/index.js';

describe.each([
  {
    name: 'writeFileAtomic',
    write: (path: string, data: string, fsync: boolean) => writeFileAtomic(path, data, { fsync }),
  },
  {
    name: 'writeFileAtomicSync',
    write: async (path: string, data: string, fsync: boolean) => writeFileAtomicSync(path, data, { fsync }),
  },
])('$name', ({ write }) => {
  it.each([true, false])(
    'replaces the whole file and leaves nothing else behind (fsync %s)',
    async (fsync) => {
      // A longer file replaced by a shorter one: the result is exactly the new content, no tail of the old.
      const dir = await tempDir('atomic-write-');
      const path = join(dir, 'STATE');
      await write(path, 'a much longer first version', fsync);
      await write(path, 'second', fsync);
      expect(readFileSync(path, 'utf8')).toBe('second');
      expect(readdirSync(dir)).toEqual(['STATE']);
    },
  );

  it('writes over the temporary file a crash left behind', async () => {
    // A write cut short leaves STATE.tmp half written; the next write replaces it and the target.
    const dir = await tempDir('atomic-write-');
    const path = join(dir, 'STATE');
    await write(path, 'old', true);
    writeFileSync(`${path}.tmp`, 'half of a write that never fin');
    await write(path, 'new', true);
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });
});

describe('writeFileAtomic with a signal', () => {
  it('leaves the file as it was once the signal aborted, failing with its reason', async () => {
    // A storage engine halted mid-write must not land the dead instance's write afterwards.
    const dir = await tempDir('atomic-write-');
    const path = join(dir, 'STATE');
    await writeFileAtomic(path, 'before', { fsync: true });
    const halt = new AbortController();
    halt.abort(new Error('halted'));
    await expect(writeFileAtomic(path, 'after', { fsync: true, signal: halt.signal })).rejects.toThrow(
      'halted',
    );
    expect(readFileSync(path, 'utf8')).toBe('before');
  });
});
