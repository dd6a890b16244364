import { fileURLToPath } from 'node:url';
import {
  defineService,
  openServiceSql,
  resolveAuthSecret,
  type ServiceApp,
  type ServiceContext,
  TokenAuthority,
} from '@sysdesign/platform';
import { registerApp } from './app.js';
import { type Config, configSchema, DEFAULT_PORT, SERVICE_NAME } from './config.js';
import { mapWalletError } from './errors.js';
import { Ledger } from './ledger.js';
import { createWalletMetrics, walletObserver } from './metrics.js';
import { OPERATOR_SCOPE } from './routes/schemas.js';
import { TransactionGate } from './store/gate.js';
import { LedgerStore } from './store/ledger-store.js';
import { balanceMover } from './store/locking.js';
import { startExpirySweeper } from './workers/expiry.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

/** Test seams that configuration cannot express. */
export interface BuildOptions {
  /** The clock of transfers and timeouts (tests move it); defaults to Date.now. */
  nowMs: () => number;
}

/**
 * Opens the wallet's parts in dependency order, each closed in reverse by the app's lifecycle:
 * Sql (Postgres or PGlite) with migrations, the ledger over the configured locking mode, the
 * timeout sweeper, and the routes.
 */
async function setup(
  app: ServiceApp,
  config: Config,
  context: ServiceContext,
  options: Partial<BuildOptions>,
): Promise<void> {
  const nowMs = options.nowMs ?? Date.now;
  const sql = await openServiceSql(app, config, context, { migrations: [MIGRATIONS_DIR] });
  const ledger = new Ledger({
    store: new LedgerStore(sql, balanceMover(config.LOCKING)),
    observer: walletObserver(createWalletMetrics(app.metrics), config.LOCKING),
    nowMs,
    attemptsMax: config.TRANSFER_ATTEMPTS_MAX,
    accountCacheMax: config.ACCOUNT_CACHE_MAX,
    gate: new TransactionGate(config.TRANSACTIONS_MAX, config.TRANSACTION_QUEUE_MAX),
  });
  if (config.EXPIRY_ENABLED) {
    const sweeper = startExpirySweeper({
      ledger,
      intervalMs: config.EXPIRY_INTERVAL_MS,
      batch: config.EXPIRY_BATCH,
      keyTtlMs: config.IDEMPOTENCY_TTL_MS,
      onError: (error) => app.log.warn({ err: error }, 'voiding expired reservations failed'),
    });
    app.lifecycle.defer('expiry sweeper', () => sweeper.close());
  }
  const secret = await resolveAuthSecret({
    configured: config.AUTH_SECRET,
    dataDir: config.DATA_DIR,
    log: app.log,
    // The embedded mode's operator is whoever can read DATA_DIR: its dev token opens accounts and audits.
    devScopes: [OPERATOR_SCOPE],
  });
  registerApp(app, {
    ledger,
    authority: new TokenAuthority({ secret }),
    batchMax: config.BATCH_MAX,
    pageMax: config.PAGE_MAX,
    pendingTimeoutMaxMs: config.PENDING_TIMEOUT_MAX_MS,
    conservationGraceMs: config.CONSERVATION_GRACE_MS,
  });
  app.log.info({ locking: config.LOCKING }, 'wallet ledger ready');
}

export const wallet = defineService<typeof configSchema, BuildOptions>({
  name: SERVICE_NAME,
  description:
    'A double-entry ledger: accounts, immutable transfers with Idempotency-Keys, two-phase and linked transfers, reversals, three locking modes.',
  defaultPort: DEFAULT_PORT,
  configSchema,
  mapError: mapWalletError,
  logBindings: (config) => ({ locking: config.LOCKING }),
  setup,
});

/** Builds the app from its configuration (tests pass `nowMs`); closing it closes everything it opened. */
export const buildService = wallet.build;
