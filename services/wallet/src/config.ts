import { authVars, backendVars, boolVar, intVar, serviceVars } from '@sysdesign/platform';
import { z } from 'zod';
import { LOCKING_MODES } from './store/locking.js';

export const SERVICE_NAME = 'wallet';
export const DEFAULT_PORT = 3012;

export const configSchema = z.object({
  ...serviceVars({ name: SERVICE_NAME, port: DEFAULT_PORT }),
  DATABASE_URL: backendVars.DATABASE_URL,
  PGLITE_DIR: backendVars.PGLITE_DIR,
  AUTH_SECRET: authVars.AUTH_SECRET,
  /** How concurrent transfers on one account are kept from spending the same money (README compares them). */
  LOCKING: z.enum(LOCKING_MODES).default('pessimistic'),
  /** Attempts of a transaction rolled back by contention (optimistic conflicts, deadlocks) before a 503. */
  TRANSFER_ATTEMPTS_MAX: intVar(20, 1, 1_000),
  /**
   * Transactions in flight at once: below the Postgres pool's 10 connections, so none waits for
   * a connection there (the embedded PGlite runs one at a time whatever this says).
   */
  TRANSACTIONS_MAX: intVar(8, 1, 10),
  /** Transactions waiting for a slot; past this a request is refused with 503 at once. */
  TRANSACTION_QUEUE_MAX: intVar(10_000, 0, 1_000_000),
  /** Transfers in one linked batch (one transaction). */
  BATCH_MAX: intVar(100, 1, 1_000),
  /** The longest a pending transfer may reserve funds before its timeout voids it. */
  PENDING_TIMEOUT_MAX_MS: intVar(7 * 24 * 3_600_000, 1_000, 365 * 24 * 3_600_000),
  /** How often reservations past their deadline are voided, and how many per round. */
  EXPIRY_INTERVAL_MS: intVar(1_000, 10, 3_600_000),
  EXPIRY_BATCH: intVar(500, 1, 10_000),
  /** Run the timeout sweeper in this process (several replicas may: each skips rows another holds). */
  EXPIRY_ENABLED: boolVar(true),
  /** How long an Idempotency-Key's answer is kept. */
  IDEMPOTENCY_TTL_MS: intVar(24 * 3_600_000, 60_000, 30 * 24 * 3_600_000),
  /** The longest page of entries or accounts. */
  PAGE_MAX: intVar(200, 1, 1_000),
  /** Accounts whose immutable attributes (owner, currency, rules) are kept in memory. */
  ACCOUNT_CACHE_MAX: intVar(100_000, 1, 10_000_000),
  /** Past its deadline, a reservation the sweeper has not voided yet counts as a conservation failure after this. */
  CONSERVATION_GRACE_MS: intVar(10_000, 0, 3_600_000),
});

export type Config = z.infer<typeof configSchema>;
