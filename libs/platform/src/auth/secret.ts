import { join } from 'node:path';
import { readOrCreateSecretFile, writePrivateFile } from '../fs/secret-file.js';
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
const GENERATED_SECRET_BYTES = 32;

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
  const { secret, source } = await readOrCreateSecretFile(path, {
    minBytes: MIN_SECRET_BYTES,
    generatedBytes: GENERATED_SECRET_BYTES,
    describe: 'AUTH_SECRET',
    onLooseMode: (mode) =>
      options.log.warn(
        { secretFile: path, mode: mode.toString(8) },
        'the auth secret file is readable by others',
      ),
  });

  const authority = new TokenAuthority({ secret, now: options.now });
  const devToken = await authority.issue(DEV_USER, {
    ttlSeconds: options.devTokenTtlSeconds ?? DEFAULT_DEV_TOKEN_TTL_SECONDS,
    scopes: options.devScopes ?? [],
  });
  const devTokenFile = join(options.dataDir, DEV_TOKEN_FILE);
  await writePrivateFile(devTokenFile, devToken);
  options.log.info(
    { user: DEV_USER, devTokenFile, secretFile: path, secretSource: source },
    `AUTH_SECRET is not set: ${source} the embedded secret; a token for user ${DEV_USER} is in ${devTokenFile}: ` +
      `curl -H "Authorization: Bearer $(cat ${devTokenFile})"`,
  );
  return secret;
}
