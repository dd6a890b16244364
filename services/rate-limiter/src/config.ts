import { fileURLToPath } from 'node:url';
import { backendVars, boolVar, intVar, serviceVars } from '@sysdesign/platform';
import { z } from 'zod';

export const SERVICE_NAME = 'rate-limiter';
export const DEFAULT_PORT = 3001;

/** The rules shipped with the service (src/ and dist/ both sit beside config/), so `pnpm start` needs no setup. */
export const DEFAULT_RULES_FILE = fileURLToPath(new URL('../config/rules.yaml', import.meta.url));

export const configSchema = z.object({
  ...serviceVars({ name: SERVICE_NAME, port: DEFAULT_PORT }),
  /** Shared counters for every instance; absent: in-memory counters in this process (embedded mode). */
  REDIS_URL: backendVars.REDIS_URL,
  /** Prefix of this service's Redis keys, so deployments (and tests) can share one Redis. */
  REDIS_KEY_PREFIX: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[^{}\s]*$/, 'must not contain braces (they would become the cluster hash tag) or spaces')
    .default('rate-limiter:'),
  /** YAML rules in Lyft/Envoy descriptor format; watched and reloaded on change. */
  RULES_FILE: z.string().min(1).default(DEFAULT_RULES_FILE),
  /** Reload RULES_FILE when it changes. */
  RULES_WATCH: boolVar(true),
  /** When Redis cannot decide: `open` admits, `closed` refuses. */
  FAIL_MODE: z.enum(['open', 'closed']).default('open'),
  /** The longest one decision waits for Redis before the fail mode applies. */
  REDIS_TIMEOUT_MS: intVar(100, 1, 10_000),
  /** Consecutive Redis failures that open the circuit breaker (then no decision waits at all). */
  BREAKER_FAILURE_THRESHOLD: intVar(5, 1, 1_000),
  /** How long the breaker stays open before one probe goes to Redis. */
  BREAKER_COOLDOWN_MS: intVar(1_000, 1, 600_000),
  /** How long a refusal is answered locally without Redis (the over-limit cache); 0 turns it off. */
  OVER_LIMIT_CACHE_TTL_MS: intVar(1_000, 0, 60_000),
  OVER_LIMIT_CACHE_MAX_KEYS: intVar(10_000, 1, 1_000_000),
  /** Identities the in-memory (embedded) mode keeps at most. */
  MEMORY_MAX_KEYS: intVar(100_000, 1, 10_000_000),
});

export type Config = z.infer<typeof configSchema>;
