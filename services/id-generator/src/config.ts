import { backendVars, DEFAULT_ID_EPOCH_MS, intVar, serviceVars, snowflakeVars } from '@sysdesign/platform';
import { z } from 'zod';

export const SERVICE_NAME = 'id-generator';
export const DEFAULT_PORT = 3003;

export const DEFAULT_EPOCH_MS = DEFAULT_ID_EPOCH_MS;

export const configSchema = z.object({
  ...serviceVars({ name: SERVICE_NAME, port: DEFAULT_PORT }),
  DATABASE_URL: backendVars.DATABASE_URL,
  PGLITE_DIR: backendVars.PGLITE_DIR,
  REDIS_URL: backendVars.REDIS_URL,
  ...snowflakeVars,
  /** Prefix of this service's Redis keys, so deployments (and tests) can share one Redis. */
  REDIS_KEY_PREFIX: z.string().min(1).max(128).default('id-generator:'),
  /** How many ticket sequences the multi-master strategy round-robins over (k). */
  MULTI_MASTER_SERVERS: intVar(2, 1, 16),
});

export type Config = z.infer<typeof configSchema>;
