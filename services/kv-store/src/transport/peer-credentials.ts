import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { inspect } from 'node:util';
import { fsyncDirectory, type ServiceListenerTls, type ServiceLogger } from '@sysdesign/platform';
import type { Config } from '../config.js';

/**
 * What a node proves itself with to its peers, and checks them with: the cluster secret (from
 * CLUSTER_SECRET, or the file CLUSTER_SECRET_FILE names, made when absent so that `pnpm start`'s
 * three nodes share one), and the peer listener's TLS certificate and the CAs it trusts.
 */

const MIN_SECRET_LENGTH = 16;
const GENERATED_SECRET_BYTES = 32;

/** The secret, compared in constant time; it never prints (logs, errors, inspection show a placeholder). */
export class ClusterSecret {
  private readonly value: string;
  private readonly digest: Buffer;

  constructor(value: string) {
    this.value = value;
    this.digest = sha256(value);
  }

  /** The header value a request carries. */
  reveal(): string {
    return this.value;
  }

  /** Constant time whatever `given` is: digests of equal length are compared, never the strings. */
  matches(given: unknown): boolean {
    return typeof given === 'string' && timingSafeEqual(sha256(given), this.digest);
  }

  toJSON(): string {
    return '[cluster secret]';
  }

  toString(): string {
    return '[cluster secret]';
  }

  [inspect.custom](): string {
    return '[cluster secret]';
  }
}

export interface PeerCredentials {
  secret: ClusterSecret;
  /** The peer listener's certificate (HTTPS), when configured. */
  tls: ServiceListenerTls | undefined;
  /** CAs trusted when calling peers over HTTPS, besides the system's. */
  ca: string | undefined;
}

/** The node's credentials; undefined without a secret (no peer API). */
export async function loadPeerCredentials(
  config: Config,
  log: ServiceLogger,
): Promise<PeerCredentials | undefined> {
  const secret = await resolveSecret(config, log);
  if (secret === undefined) return undefined;
  const tls =
    config.PEER_TLS_CERT_FILE === undefined || config.PEER_TLS_KEY_FILE === undefined
      ? undefined
      : { cert: await readFile(config.PEER_TLS_CERT_FILE), key: await readFile(config.PEER_TLS_KEY_FILE) };
  const ca =
    config.PEER_TLS_CA_FILE === undefined ? undefined : await readFile(config.PEER_TLS_CA_FILE, 'utf8');
  return { secret, tls, ca };
}

async function resolveSecret(config: Config, log: ServiceLogger): Promise<ClusterSecret | undefined> {
  if (config.CLUSTER_SECRET !== undefined) return new ClusterSecret(config.CLUSTER_SECRET);
  const path = config.CLUSTER_SECRET_FILE;
  if (path === undefined) return undefined;
  let value = await readSecretFile(path);
  const source = value === undefined ? 'generated' : 'reused';
  value ??= await createSecretFile(path);
  // The path only: the secret itself never reaches a log.
  log.info({ secretFile: path, secretSource: source }, `cluster secret ${source} in ${path}`);
  return new ClusterSecret(value);
}

async function readSecretFile(path: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const secret = text.trim();
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new Error(
      `CLUSTER_SECRET_FILE: ${path} holds no secret of at least ${MIN_SECRET_LENGTH} characters`,
    );
  }
  return secret;
}

/**
 * Writes a random secret to a temp file (0600, fsynced) and links it into place: `link` fails when
 * the name exists, so when two nodes race, both end up with the first one's secret.
 */
async function createSecretFile(path: string): Promise<string> {
  const directory = dirname(path);
  await mkdir(directory, { recursive: true });
  const tempPath = join(directory, `.cluster-secret.${randomUUID()}.tmp`);
  const secret = randomBytes(GENERATED_SECRET_BYTES).toString('base64url');
  const handle = await open(tempPath, 'wx', 0o600);
  try {
    await handle.chmod(0o600); // Whatever the umask.
    await handle.writeFile(`${secret}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tempPath, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return (await readSecretFile(path)) ?? secret;
  } finally {
    await unlink(tempPath);
  }
  await fsyncDirectory(directory);
  return secret;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
