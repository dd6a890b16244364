import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import { readOrCreateSecretFile, writePrivateFile } from '../../src/fs/secret-file.js';

/**
 * Secret files are private from their first byte and shared by racing starters: proven by making
 * them under a permissive umask, by racing ten makers, and by reading back damaged and loose files.
 */

const options = { minBytes: 16, generatedBytes: 32, describe: 'TEST_SECRET_FILE' };

describe('readOrCreateSecretFile', () => {
  it('makes a 0600 secret once and reuses it, whatever the umask', async () => {
    const path = join(await tempDir('secret-file-'), 'nested', 'secret');
    const previousUmask = process.umask(0o000);
    try {
      const made = await readOrCreateSecretFile(path, options);
      expect(made.source).toBe('generated');
      expect(Buffer.from(made.secret, 'base64url')).toHaveLength(32);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect(await readOrCreateSecretFile(path, options)).toEqual({ secret: made.secret, source: 'reused' });
    } finally {
      process.umask(previousUmask);
    }
  });

  it('gives ten racing makers one secret, and leaves no temp file behind', async () => {
    const dir = await tempDir('secret-file-race-');
    const path = join(dir, 'secret');
    const results = await Promise.all(
      Array.from({ length: 10 }, () => readOrCreateSecretFile(path, options)),
    );
    expect(new Set(results.map((result) => result.secret)).size).toBe(1);
    expect(results.filter((result) => result.source === 'generated')).toHaveLength(1);
    expect(await readdir(dir)).toEqual(['secret']);
  });

  it('refuses a file too short to be a secret, naming the setting and never its content', async () => {
    const path = join(await tempDir('secret-file-short-'), 'secret');
    await writeFile(path, 'hunter2\n', { mode: 0o600 });
    const refusal = readOrCreateSecretFile(path, options);
    await expect(refusal).rejects.toThrow(/TEST_SECRET_FILE: .* holds no secret of at least 16 bytes/);
    await expect(refusal).rejects.not.toThrow(/hunter2/);
  });

  it('tells when an existing secret is readable by others', async () => {
    const path = join(await tempDir('secret-file-loose-'), 'secret');
    await writeFile(path, 'a-secret-long-enough-to-pass\n', { mode: 0o644 });
    const modes: number[] = [];
    await readOrCreateSecretFile(path, { ...options, onLooseMode: (mode) => modes.push(mode) });
    expect(modes).toEqual([0o644]);
  });
});

describe('writePrivateFile', () => {
  it('replaces a file with a 0600 one holding the text', async () => {
    const dir = await tempDir('private-file-');
    const path = join(dir, 'token');
    await writeFile(path, 'old\n', { mode: 0o644 });
    await writePrivateFile(path, 'new-token');
    expect(await readFile(path, 'utf8')).toBe('new-token\n');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['token']);
  });
});
