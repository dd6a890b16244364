import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import { AUTH_SECRET_FILE, DEV_TOKEN_FILE, resolveAuthSecret, TokenAuthority } from '../../src/auth/index.js';

const freshDir = () => tempDir('auth-secret-');

/** A logger that keeps what it was given. */
function recordingLog() {
  const lines: Array<{ level: string; details: Record<string, unknown>; message: string }> = [];
  const record = (level: string) => (details: object, message: string) =>
    lines.push({ level, details: details as Record<string, unknown>, message });
  return { lines, info: record('info'), warn: record('warn') };
}

describe('resolveAuthSecret', () => {
  it('generates a secret once, stores it with mode 0600, and reuses it on the next start', async () => {
    // Proves persistence: two calls on one data dir return the same secret, from a 0600 file,
    // with no temp file left behind.
    const dataDir = join(await freshDir(), 'nested');
    const first = await resolveAuthSecret({ dataDir, log: recordingLog() });
    const second = await resolveAuthSecret({ dataDir, log: recordingLog() });
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(second).toBe(first);
    expect((await stat(join(dataDir, AUTH_SECRET_FILE))).mode & 0o777).toBe(0o600);
    expect((await readdir(dataDir)).sort()).toEqual([AUTH_SECRET_FILE, DEV_TOKEN_FILE]);
  });

  it('writes a working dev token to a 0600 file and logs only its path, never the token or the secret', async () => {
    // Proves the embedded-mode convenience without a bearer token in the log: the file's token
    // verifies under the returned secret, the file is private, and the log names the file only.
    const dataDir = await freshDir();
    const log = recordingLog();
    const secret = await resolveAuthSecret({ dataDir, log, devScopes: ['admin'] });
    const tokenFile = join(dataDir, DEV_TOKEN_FILE);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const devToken = (await readFile(tokenFile, 'utf8')).trim();
    const verified = await new TokenAuthority({ secret }).verify(devToken);
    expect(verified).toMatchObject({ subject: 'dev', scopes: ['admin'] });
    const info = log.lines.filter((line) => line.level === 'info');
    expect(info).toHaveLength(1);
    expect(info[0]!.details.devTokenFile).toBe(tokenFile);
    const logged = JSON.stringify(log.lines);
    expect(logged).not.toContain(devToken);
    expect(logged).not.toContain(devToken.split('.')[2]);
    expect(logged).not.toContain(secret);
  });

  it('gives every concurrent first start the same secret', async () => {
    // Proves the link-based publish: five racing starts agree on the one secret on disk.
    const dataDir = await freshDir();
    const secrets = await Promise.all(
      Array.from({ length: 5 }, () => resolveAuthSecret({ dataDir, log: recordingLog() })),
    );
    expect(new Set(secrets).size).toBe(1);
    expect((await readdir(dataDir)).sort()).toEqual([AUTH_SECRET_FILE, DEV_TOKEN_FILE]);
  });

  it('uses a configured AUTH_SECRET as is, writing and logging nothing', async () => {
    // Proves distributed mode: the configured secret wins, no file appears, no dev token is logged.
    const dataDir = await freshDir();
    const log = recordingLog();
    const configured = 'configured-secret-with-at-least-32-bytes';
    expect(await resolveAuthSecret({ configured, dataDir, log })).toBe(configured);
    expect(await readdir(dataDir)).toEqual([]);
    expect(log.lines).toEqual([]);
    await expect(resolveAuthSecret({ configured: 'too-short', dataDir, log })).rejects.toThrow(
      /at least 32 bytes/,
    );
  });

  it('refuses a secret file that holds no valid secret instead of replacing it', async () => {
    // Proves an operator's broken file is reported, not silently overwritten (which would void tokens).
    const dataDir = await freshDir();
    await writeFile(join(dataDir, AUTH_SECRET_FILE), 'short\n', { mode: 0o600 });
    await expect(resolveAuthSecret({ dataDir, log: recordingLog() })).rejects.toThrow(
      /holds no secret of at least 32 bytes; delete it to make a new one/,
    );
  });

  it('warns when the secret file is readable by others', async () => {
    // Proves the permission check on reuse: a 0644 file still works but is flagged.
    const dataDir = await freshDir();
    await writeFile(join(dataDir, AUTH_SECRET_FILE), `${'s'.repeat(40)}\n`, { mode: 0o644 });
    const log = recordingLog();
    expect(await resolveAuthSecret({ dataDir, log })).toBe('s'.repeat(40));
    expect(log.lines.filter((line) => line.level === 'warn')).toHaveLength(1);
  });
});
