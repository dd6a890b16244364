import {
  createLogger,
  createPostgresSql,
  loadConfig,
  type ServiceApp,
  TokenAuthority,
} from '@sysdesign/platform';
import { tempDirSync } from '@sysdesign/testkit';
import { configSchema } from '../src/config.js';
import { OPERATOR_SCOPE } from '../src/routes/schemas.js';
import { buildService } from '../src/service.js';

/** The secret the HTTP bench signs its token with. */
export const BENCH_AUTH_SECRET = 'bench-secret-of-at-least-thirty-two-bytes';
/** The wallets of each pool the bench's transfers pick from (fewer low-contention ones in smoke mode). */
export const POOLS = { low: 1_000, hot: 10 } as const;
export const SMOKE_LOW_WALLETS = 100;
export type Pool = keyof typeof POOLS;
const FUNDING = '1000000000';
const FUNDING_BATCH = 100;

/**
 * The wallet as the HTTP bench runs it, in a child process: request logs off, everything else as in
 * production. WALLET_BENCH_LOCKING picks the locking mode; WALLET_BENCH_BACKEND=postgres runs on
 * DATABASE_URL in a schema of its own (dropped at the end), otherwise on PGlite in memory.
 *
 * Before listening, the target opens a bank and two pools of wallets through its own API (1,000
 * wallets for low contention, 100 with WALLET_BENCH_SMOKE=1; 10 hot ones) and funds them. The load harness sends one fixed request;
 * a transfer whose debit and credit account ids both name a pool (`"low"` or `"hot"`) gets two
 * distinct random wallets of that pool in their place, in a preValidation hook, before the route's
 * validation, authentication and the ledger see it. Nothing else differs from production.
 */
export async function createBenchTarget() {
  const postgres = process.env.WALLET_BENCH_BACKEND === 'postgres';
  const databaseUrl = process.env.DATABASE_URL;
  if (postgres && !databaseUrl) throw new Error('WALLET_BENCH_BACKEND=postgres needs DATABASE_URL');
  const schema = `wallet_http_bench_${process.pid}`;
  const config = loadConfig(configSchema, {
    PGLITE_DIR: 'memory',
    LOG_LEVEL: 'warn',
    DATA_DIR: tempDirSync('wallet-bench-'),
    AUTH_SECRET: BENCH_AUTH_SECRET,
    LOCKING: process.env.WALLET_BENCH_LOCKING ?? 'pessimistic',
    // Hot wallets under optimistic locking retry often: a 503 would fail the run, not measure it.
    TRANSFER_ATTEMPTS_MAX: '1000',
    ...(postgres ? { DATABASE_URL: databaseUrl! } : {}),
  });
  const app = await buildService(config, {
    logger: createLogger('warn'),
    ...(postgres ? { sqlSchema: schema } : {}),
  });
  const pools: Record<Pool, string[]> = { low: [], hot: [] };
  app.addHook('preValidation', async (request) => {
    const body = request.body as { debitAccountId?: unknown; creditAccountId?: unknown } | undefined;
    if (request.routeOptions.url !== '/v1/transfers' || typeof body !== 'object' || body === null) return;
    const pool = body.debitAccountId;
    if (pool !== body.creditAccountId || (pool !== 'low' && pool !== 'hot')) return;
    const wallets = pools[pool];
    const debit = Math.floor(Math.random() * wallets.length);
    const credit = (debit + 1 + Math.floor(Math.random() * (wallets.length - 1))) % wallets.length;
    body.debitAccountId = wallets[debit];
    body.creditAccountId = wallets[credit];
  });
  await seed(app, pools, process.env.WALLET_BENCH_SMOKE === '1' ? SMOKE_LOW_WALLETS : POOLS.low);
  return {
    app,
    close: async () => {
      if (!postgres) return;
      const sql = await createPostgresSql({ url: databaseUrl!, schema: 'public' });
      await sql.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await sql.close();
    },
  };
}

/** Opens the bank and the pools' wallets through the API, and funds every wallet from the bank. */
async function seed(app: ServiceApp, pools: Record<Pool, string[]>, lowWallets: number): Promise<void> {
  const token = await new TokenAuthority({ secret: BENCH_AUTH_SECRET }).issue('bench-operator', {
    ttlSeconds: 3_600,
    scopes: [OPERATOR_SCOPE],
  });
  const headers = { authorization: `Bearer ${token}` };
  const send = async (url: string, payload: object, field: 'id' | 'batchId') => {
    const response = await app.inject({ method: 'POST', url, headers, payload });
    if (response.statusCode !== 201)
      throw new Error(`seeding ${url}: ${response.statusCode} ${response.body}`);
    return String(response.json()[field]);
  };
  const open = (owner: string, debitsMustNotExceedCredits: boolean) =>
    send('/v1/accounts', { owner, currency: 'EUR', flags: { debitsMustNotExceedCredits } }, 'id');
  const bank = await open('bench-bank', false);
  const sizes: Record<Pool, number> = { low: lowWallets, hot: POOLS.hot };
  for (const pool of Object.keys(POOLS) as Pool[]) {
    for (let index = 0; index < sizes[pool]; index++) pools[pool].push(await open(`${pool}-${index}`, true));
    for (let start = 0; start < pools[pool].length; start += FUNDING_BATCH) {
      const transfers = pools[pool]
        .slice(start, start + FUNDING_BATCH)
        .map((id) => ({ debitAccountId: bank, creditAccountId: id, amount: FUNDING, currency: 'EUR' }));
      await send('/v1/transfers/batch', { transfers }, 'batchId');
    }
  }
}
