import {
  type HttpBenchResult,
  renderMarkdown,
  runHttpBench,
  type ScenarioResult,
  writeReport,
} from '@sysdesign/load-tests';
import { TokenAuthority } from '@sysdesign/platform';
import { OPERATOR_SCOPE } from '../src/routes/schemas.js';
import { LOCKING_MODES } from '../src/store/locking.js';
import { BENCH_AUTH_SECRET, POOLS, type Pool, SMOKE_LOW_WALLETS } from './target.js';

/**
 * `pnpm --filter @sysdesign/wallet bench:http [--smoke]`: POST /v1/transfers (one transfer of 1 cent
 * per request, one commit each, no Idempotency-Key) under load beside a bare-Fastify baseline in the
 * same run, per backend (PGlite in memory always; Postgres when DATABASE_URL is set) and per locking
 * mode, between random wallets of 1,000 (low contention) and of 10 (hot). The target seeds its
 * wallets through its own API before it listens (bench/target.ts). Writes
 * `load-tests/results/wallet.md`. `--smoke`: PGlite only, 100 low-contention wallets, one 1-second round per row, nothing written
 * (bench-smoke.test.ts keeps the bench from rotting).
 */

const smoke = process.argv.includes('--smoke');
if (smoke) process.env.WALLET_BENCH_SMOKE = '1';
const lowWallets = smoke ? SMOKE_LOW_WALLETS : POOLS.low;
const CONNECTIONS = 16;
const token = await new TokenAuthority({ secret: BENCH_AUTH_SECRET }).issue('bench-operator', {
  ttlSeconds: 3_600,
  scopes: [OPERATOR_SCOPE],
});
const headers = { authorization: `Bearer ${token}` };
const backends = [
  { name: 'PGlite', env: 'pglite' },
  ...(process.env.DATABASE_URL && !smoke ? [{ name: 'Postgres', env: 'postgres' }] : []),
];

function scenario(pool: Pool, label: string) {
  return {
    name: label,
    method: 'POST' as const,
    path: '/v1/transfers',
    headers,
    body: { debitAccountId: pool, creditAccountId: pool, amount: '1', currency: 'EUR' },
  };
}

process.env.NODE_ENV = 'production';
const scenarios: ScenarioResult[] = [];
let first: HttpBenchResult | undefined;
for (const backend of backends) {
  for (const mode of LOCKING_MODES) {
    // The target process inherits the environment: it picks its backend and mode from this.
    process.env.WALLET_BENCH_BACKEND = backend.env;
    process.env.WALLET_BENCH_LOCKING = mode;
    const result = await runHttpBench({
      service: 'wallet',
      target: { modulePath: new URL('./target.ts', import.meta.url) },
      platformFloor: false,
      connections: CONNECTIONS,
      ...(smoke ? { durationSeconds: 1, rounds: 1, warmupSeconds: 0 } : {}),
      scenarios: [
        scenario(
          'low',
          `${backend.name}, ${mode}: low contention (${lowWallets.toLocaleString('en-US')} wallets)`,
        ),
        scenario('hot', `${backend.name}, ${mode}: ${POOLS.hot} hot wallets`),
      ],
    });
    first ??= result;
    scenarios.push(...result.scenarios);
  }
}
const report = {
  service: 'wallet',
  http: { ...first!, scenarios },
  notes: [
    `POST /v1/transfers, ${CONNECTIONS} connections, one transfer of 1 minor unit per request between two distinct random wallets of the pool (each funded with 10,000,000.00 EUR), one commit per transfer. The service's req/s is its transfers/s.`,
    "Postgres is the machine's shared server, fsync and synchronous_commit untouched (other helpers' tests and benches run on it at the same time); PGlite runs in memory (no fsync) inside the service process, one transaction at a time, its CPU counted in the service's.",
    'The database path without HTTP (batches, the commit ceiling): `load-tests/results/wallet-ledger.md` (`pnpm --filter @sysdesign/wallet bench`).',
  ],
};
if (smoke) {
  process.stdout.write('smoke mode: nothing written\n');
  process.stdout.write(renderMarkdown(report));
} else await writeReport(report);
