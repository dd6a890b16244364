import { backendVars, intVar, serviceVars } from '@sysdesign/platform';
import { z } from 'zod';

export const SERVICE_NAME = 'id-generator';
export const DEFAULT_PORT = 3003;

/** 2024-01-01T00:00:00Z: ids stay small for decades (41 bits of milliseconds last 69 years). */
export const DEFAULT_EPOCH_MS = 1_704_067_200_000;

export const configSchema = z.object({
  ...serviceVars({ name: SERVICE_NAME, port: DEFAULT_PORT }),
  DATABASE_URL: backendVars.DATABASE_URL,
  PGLITE_DIR: backendVars.PGLITE_DIR,
  REDIS_URL: backendVars.REDIS_URL,
  /** Bit layout of the snowflake strategy: Twitter's 41/5/5/12 or Sonyflake's 39/8/16. */
  ID_LAYOUT: z.enum(['snowflake', 'sonyflake']).default('snowflake'),
  /** Milliseconds since the Unix epoch where id time starts. */
  ID_EPOCH_MS: z.coerce.number().int().min(0).max(4_102_444_800_000).default(DEFAULT_EPOCH_MS),
  /** 0..31; the snowflake layout only. */
  DATACENTER_ID: intVar(0, 0, 31),
  /** A fixed worker (machine) id, or `auto` to lease a free one. */
  WORKER_ID: z.union([z.literal('auto'), z.coerce.number().int().min(0).max(65_535)]).default('auto'),
  /** Where worker leases live: Postgres (or PGlite), or Redis (needs REDIS_URL). */
  WORKER_LEASE_STORE: z.enum(['postgres', 'redis']).default('postgres'),
  WORKER_LEASE_TTL_MS: intVar(10_000, 1_000, 600_000),
  /** Prefix of this service's Redis keys, so deployments (and tests) can share one Redis. */
  REDIS_KEY_PREFIX: z.string().min(1).max(128).default('id-generator:'),
  /** Clock moved back by at most this: wait it out. Further: refuse with 503. */
  MAX_CLOCK_ROLLBACK_MS: intVar(5, 0, 10_000),
  /** How many ticket sequences the multi-master strategy round-robins over (k). */
  MULTI_MASTER_SERVERS: intVar(2, 1, 16),
});

export type Config = z.infer<typeof configSchema>;
