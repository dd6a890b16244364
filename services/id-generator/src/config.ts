import { backendVars, DEFAULT_ID_EPOCH_MS, intVar, serviceVars, snowflakeVars } from '@sysdesign/platform';
import { z } from 'zod';
import { DEFAULT_ID_BUDGET } from './domain/id-budget.js';
import { MAX_IDS_PER_REQUEST } from './domain/strategies.js';

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
  /** Ids being made at once across requests: the work per moment (see domain/id-budget.ts). */
  MAX_IDS_IN_FLIGHT: intVar(DEFAULT_ID_BUDGET.maxIdsInFlight, MAX_IDS_PER_REQUEST, 1_000_000),
  /** Ids of requests waiting for that budget; a request that would queue more gets a 503. */
  MAX_IDS_QUEUED: intVar(DEFAULT_ID_BUDGET.maxIdsQueued, 0, 10_000_000),
});

export type Config = z.infer<typeof configSchema>;
