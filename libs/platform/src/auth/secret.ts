import { randomBytes, randomUUID } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MIN_SECRET_BYTES, secretBytes, TokenAuthority } from './tokens.js';

/**
 * Where the auth secret comes from. Distributed mode sets `AUTH_SECRET`. The embedded mode must
 * work after `pnpm start` with nothing set, so it generates a secret once, keeps it in
 * `<dataDir>/auth-secret` (mode 0600) so tokens survive restarts, and writes a fresh token for
 * user `dev` to `<dataDir>/dev-token` (mode 0600) so the first curl works. Neither the secret nor
 * the token is ever logged: a bearer token valid for a day does not belong in a log file that
 * others may read or ship; the log names the file instead.
 */

export const AUTH_SECRET_FILE = 'auth-secret';
export const DEV_TOKEN_FILE = 'dev-token';
export const DEV_USER = 'dev';
export const DEFAULT_DEV_TOKEN_TTL_SECONDS = 24 * 60 * 60;

/** The slice of a pino logger this needs. */
export interface AuthLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface ResolveAuthSecretOptions {
  /** `AUTH_SECRET` from the config; absent means the embedded mode. */
  configured?: string | undefined;
  /** Where the embedded secret lives. Services that must accept each other's tokens share it. */
  dataDir: string;
  log: AuthLog;
  /** Scopes of the logged dev token. */
  devScopes?: readonly string[];
  devTokenTtlSeconds?: number;
  now?: () => number;
}

export async function resolveAuthSecret(options: ResolveAuthSecretOptions): Promise<string> {
  if (options.configured !== undefined) {
    // The same check the TokenAuthority makes, made at start so bad config fails before serving.
    secretBytes(options.configured);
    return options.configured;
  }
  const path = join(options.dataDir, AUTH_SECRET_FILE);
  let secret = await readSecretFile(path, options.log);
  const source = secret === undefined ? 'generated' : 'reused';
  if (secret === undefined) secret = await createSecretFile(options.dataDir, path);

  const authority = new TokenAuthority({ secret, now: options.now });
  const devToken = await authority.issue(DEV_USER, {
    ttlSeconds: options.devTokenTtlSeconds ?? DEFAULT_DEV_TOKEN_TTL_SECONDS,
    scopes: options.devScopes ?? [],
  });
  const devTokenFile = join(options.dataDir, DEV_TOKEN_FILE);
  await writePrivateFile(options.dataDir, devTokenFile, devToken);
  options.log.info(
    { user: DEV_USER, devTokenFile, secretFile: path, secretSource: source },
    `AUTH_SECRET is not set: ${source} the embedded secret; a token for user ${DEV_USER} is in ${devTokenFile}: ` +
      `curl -H "Authorization: Bearer $(cat ${devTokenFile})"`,
  );
  return secret;
}

/**
 * Replaces `path` with `text` in one rename, the file being 0600 from its first byte: the
 * platform's `writeFileAtomic` creates its temp file with the umask's mode, which would leave a
 * readable token on disk for a moment. Each start writes a new token; the old one stays valid
 * until it expires.
 */
async function writePrivateFile(dataDir: string, path: string, text: string): Promise<void> {
  const tempPath = await writePrivateTemp(dataDir, path, text);
  try {
    await rename(tempPath, path);
  } catch (error) {
    await unlink(tempPath).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dataDir);
}

/** A new file next to `path`, mode 0600 whatever the umask, holding `text` and fsynced. */
async function writePrivateTemp(dataDir: string, path: string, text: string): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const tempPath = `${path}.${randomUUID()}.tmp`;
  const handle = await open(tempPath, 'wx', 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(`${text}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return tempPath;
}

async function readSecretFile(path: string, log: AuthLog): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const secret = text.trim();
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) {
    throw new Error(
      `${path} holds no valid secret (at least ${MIN_SECRET_BYTES} bytes); delete it to make a new one`,
    );
  }
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) {
    log.warn(
      { secretFile: path, mode: (mode & 0o777).toString(8) },
      'the auth secret file is readable by others',
    );
  }
  return secret;
}

/**
 * Writes a new secret to a temp file (0600, fsynced) and links it into place. `link` fails when
 * the name exists, so when two starts race, the first one's secret wins and the other reads it:
 * every caller ends up with the secret on disk. A reader never sees a partial file.
 */
async function createSecretFile(dataDir: string, path: string): Promise<string> {
  const secret = randomBytes(32).toString('base64url');
  const tempPath = await writePrivateTemp(dataDir, path, secret);
  try {
    await link(tempPath, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const winner = await readFile(path, 'utf8');
    return winner.trim();
  } finally {
    await unlink(tempPath);
  }
  await syncDirectory(dataDir);
  return secret;
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
