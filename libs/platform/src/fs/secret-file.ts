import { randomBytes, randomUUID } from 'node:crypto';
import { link, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncDirectory } from './durable.js';
import { readTextIfPresent } from './read-if-present.js';

/**
 * Files that hold a secret (an embedded auth secret, a cluster secret, a dev token). They are
 * mode 0600 from their first byte, whatever the umask: a temp file made with 0600 and fsynced,
 * then moved into place, so no reader ever sees a partial or briefly world-readable file.
 */

export interface SecretFileOptions {
  /** Fewer bytes than this in an existing file is an error (the file is corrupt or not ours). */
  minBytes: number;
  /** Random bytes of a new secret (base64url-encoded in the file). */
  generatedBytes: number;
  /** Names the setting in errors, e.g. `CLUSTER_SECRET_FILE`. */
  describe: string;
  /** Told when an existing file is readable by group or others (the secret is then not secret). */
  onLooseMode?: (mode: number) => void;
}

export interface SecretFromFile {
  secret: string;
  /** `generated` when this call made the file, `reused` when it was there. */
  source: 'generated' | 'reused';
}

/**
 * The secret kept at `path`, made there when absent. Two processes that race (the embedded
 * three-node cluster starts its nodes together) end with the same secret: the new file is linked
 * into place, and `link` fails when the name exists, so the first writer wins and the others
 * read its secret.
 */
export async function readOrCreateSecretFile(
  path: string,
  options: SecretFileOptions,
): Promise<SecretFromFile> {
  const existing = await readSecretFile(path, options);
  if (existing !== undefined) return { secret: existing, source: 'reused' };
  const secret = randomBytes(options.generatedBytes).toString('base64url');
  const temporaryPath = await writePrivateTemp(path, secret);
  try {
    await link(temporaryPath, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const winner = await readSecretFile(path, options);
    return { secret: winner ?? secret, source: 'reused' };
  } finally {
    await unlink(temporaryPath);
  }
  await fsyncDirectory(dirname(path));
  return { secret, source: 'generated' };
}

/** Replaces `path` with `text` in one rename, the file 0600 from its first byte. */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const temporaryPath = await writePrivateTemp(path, text);
  try {
    await rename(temporaryPath, path);
  } catch (error) {
    await unlink(temporaryPath).catch(() => undefined);
    throw error;
  }
  await fsyncDirectory(dirname(path));
}

async function readSecretFile(path: string, options: SecretFileOptions): Promise<string | undefined> {
  const text = await readTextIfPresent(path);
  if (text === undefined) return undefined;
  const secret = text.trim();
  if (Buffer.byteLength(secret) < options.minBytes) {
    // The path only: whatever the file holds stays out of the message.
    throw new Error(
      `${options.describe}: ${path} holds no secret of at least ${options.minBytes} bytes; delete it to make a new one`,
    );
  }
  const { mode } = await stat(path);
  if ((mode & 0o077) !== 0) options.onLooseMode?.(mode & 0o777);
  return secret;
}

/** A new file beside `path`, mode 0600 whatever the umask, holding `text` and fsynced. */
async function writePrivateTemp(path: string, text: string): Promise<string> {
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
  const temporaryPath = join(directory, `.${basename(path)}.${randomUUID()}.tmp`);
  const handle = await open(temporaryPath, 'wx', 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(`${text}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return temporaryPath;
}
