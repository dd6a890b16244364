import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { readOrCreateSecretFile, type ServiceListenerTls, type ServiceLogger } from '@sysdesign/platform';
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
  const { secret, source } = await readOrCreateSecretFile(path, {
    minBytes: MIN_SECRET_LENGTH,
    generatedBytes: GENERATED_SECRET_BYTES,
    describe: 'CLUSTER_SECRET_FILE',
    onLooseMode: (mode) =>
      log.warn({ secretFile: path, mode: mode.toString(8) }, 'the cluster secret file is readable by others'),
  });
  // The path only: the secret itself never reaches a log.
  log.info({ secretFile: path, secretSource: source }, `cluster secret ${source} in ${path}`);
  return new ClusterSecret(secret);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
