import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describeEnvironment, resultsPath } from '@sysdesign/load-tests';
import { createPostgresSql, EmbeddedPostgres, migrate, type Sql } from '@sysdesign/platform';
import { tempDirSync } from '@sysdesign/testkit';
import { type Caller, Ledger, type TransferRequest } from '../src/ledger.js';
import { TransactionGate } from '../src/store/gate.js';
import { LedgerStore } from '../src/store/ledger-store.js';
import { balanceMover, LOCKING_MODES, type LockingMode } from '../src/store/locking.js';

/**
 * `pnpm --filter @sysdesign/wallet bench`: the database path of the ledger (no HTTP), as
 * DECISIONS.md asks for #12. Per backend (Postgres when DATABASE_URL is set, and PGlite on disk)
 * and per locking mode: transfers/s with p50/p99 at low contention (1,000 wallets) and on 10 hot
 * wallets, one transfer per commit; linked batches of 100 transfers per commit; and, in the same
 * run, the ceiling of fsync'd single-row commits on the same database with the same concurrency,
 * which bounds every one-transfer-per-commit figure. fsync and synchronous_commit stay on.
 */

const SECONDS = Number(process.env.BENCH_DURATION_SECONDS ?? 5);
const CONCURRENCY = 8;
const LOW_CONTENTION_WALLETS = 1_000;
const HOT_WALLETS = 10;
const BATCH = 100;
const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));
const operator: Caller = { id: 'bench', operator: true };

interface Cell {
  backend: string;
  locking: LockingMode | '-';
  scenario: string;
  transfersPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  refused: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Runs `op` on `concurrency` workers for SECONDS; each op answers how many transfers it committed. */
async function measure(op: () => Promise<number>, concurrency: number) {
  const latencies: number[] = [];
  let transfers = 0;
  let refused = 0;
  const deadline = performance.now() + SECONDS * 1_000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const begin = performance.now();
        try {
          transfers += await op();
        } catch {
          refused++;
        }
        latencies.push(performance.now() - begin);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1_000;
  latencies.sort((left, right) => left - right);
  return {
    transfersPerSecond: transfers / seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    refused,
  };
}

/** Opens a bank and `count` wallets in one transaction (setup, not measured), then funds them in batches. */
async function openWallets(
  ledger: Ledger,
  store: LedgerStore,
  count: number,
  prefix: string,
): Promise<string[]> {
  const createdAt = new Date();
  const account = (owner: string, limited: boolean) => ({
    id: randomUUID(),
    owner,
    currency: 'EUR',
    debitsMustNotExceedCredits: limited,
    creditsMustNotExceedDebits: false,
    metadata: null,
    createdBy: operator.id,
    createdAt,
  });
  const bank = account(`${prefix}-bank`, false);
  const wallets = Array.from({ length: count }, (_, index) => account(`${prefix}-${index}`, true));
  await store.sql.tx(async (tx) => {
    for (const each of [bank, ...wallets]) await store.insertAccount(tx, each);
  });
  for (let start = 0; start < wallets.length; start += BATCH) {
    const funding = wallets
      .slice(start, start + BATCH)
      .map(({ id }) => transfer(bank.id, id, 1_000_000_000n));
    await ledger.createBatch(operator, funding);
  }
  return wallets.map(({ id }) => id);
}

function transfer(debit: string, credit: string, amount = 1n): TransferRequest {
  return { debitAccountId: debit, creditAccountId: credit, amount, currency: 'EUR' };
}

function randomPair(wallets: readonly string[]): TransferRequest {
  const debit = Math.floor(Math.random() * wallets.length);
  const credit = (debit + 1 + Math.floor(Math.random() * (wallets.length - 1))) % wallets.length;
  return transfer(wallets[debit]!, wallets[credit]!);
}

async function benchBackend(backend: string, sqlFor: (schema: string) => Promise<Sql>, concurrency: number) {
  const cells: Cell[] = [];
  const ceilingSql = await sqlFor('wallet_bench_ceiling');
  await ceilingSql.script(
    'CREATE TABLE IF NOT EXISTS commits (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())',
  );
  const ceiling = await measure(async () => {
    await ceilingSql.tx((tx) => tx.query('INSERT INTO commits DEFAULT VALUES'));
    return 1;
  }, concurrency);
  cells.push({ backend, locking: '-', scenario: "ceiling: one-row fsync'd commits", ...ceiling });
  await ceilingSql.script('DROP TABLE commits');
  await ceilingSql.close();
  for (const mode of LOCKING_MODES) {
    const schema = `wallet_bench_${mode}`;
    const sql = await sqlFor(schema);
    await sql.script(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`);
    await migrate(sql, MIGRATIONS_DIR);
    const store = new LedgerStore(sql, balanceMover(mode));
    const ledger = new Ledger({
      store,
      observer: { transfer() {}, retry() {}, contentionExhausted() {}, expired() {} },
      nowMs: Date.now,
      attemptsMax: 50,
      accountCacheMax: 100_000,
      gate: new TransactionGate(concurrency, 10_000),
    });
    const many = await openWallets(ledger, store, LOW_CONTENTION_WALLETS, 'low');
    const hot = await openWallets(ledger, store, HOT_WALLETS, 'hot');
    const single = (wallets: string[]) => async () => {
      await ledger.createTransfer(operator, randomPair(wallets));
      return 1;
    };
    process.stderr.write(`${backend} ${mode}: wallets open\n`);
    const low = await measure(single(many), concurrency);
    cells.push({
      backend,
      locking: mode,
      scenario: `low contention (${LOW_CONTENTION_WALLETS} wallets), 1 per commit`,
      ...low,
    });
    const hotRun = await measure(single(hot), concurrency);
    cells.push({ backend, locking: mode, scenario: `${HOT_WALLETS} hot wallets, 1 per commit`, ...hotRun });
    const batched = await measure(async () => {
      await ledger.createBatch(
        operator,
        Array.from({ length: BATCH }, () => randomPair(many)),
      );
      return BATCH;
    }, concurrency);
    cells.push({
      backend,
      locking: mode,
      scenario: `linked batches of ${BATCH}, low contention`,
      ...batched,
    });
    process.stderr.write(`${backend} ${mode}: measured, checking conservation\n`);
    const report = await ledger.conservation(0);
    if (!report.ok)
      throw new Error(
        `${backend} ${mode}: conservation failed ${JSON.stringify(report.accountsOutOfBalance)}`,
      );
    await sql.script(`DROP SCHEMA ${schema} CASCADE`);
    await sql.close();
    process.stderr.write(`${backend} ${mode} done\n`);
  }
  return cells;
}

const cells: Cell[] = [];
const url = process.env.DATABASE_URL;
if (url) {
  cells.push(
    ...(await benchBackend(
      'Postgres',
      (schema) => createPostgresSql({ url, schema, maxConnections: CONCURRENCY + 1 }),
      CONCURRENCY,
    )),
  );
}
const pglite = await EmbeddedPostgres.open(tempDirSync('wallet-bench-pglite-'));
// PGlite runs one statement at a time: more workers only queue.
cells.push(...(await benchBackend('PGlite (disk)', (schema) => pglite.forSchema(schema), 1)));
await pglite.close();

const environment = describeEnvironment();
const lines = [
  '# wallet ledger: the database path',
  '',
  `Measured ${environment.date} on Node ${environment.nodeVersion}, ${environment.cpuModel} (${environment.cores} cores), ` +
    `${SECONDS} s per row, ${CONCURRENCY} concurrent transactions on Postgres (1 on PGlite), through the Ledger (no HTTP). ` +
    'fsync and synchronous_commit on. Every row ends with the conservation check passing.',
  '',
  '| backend | locking | scenario | transfers/s | p50 ms | p99 ms | refused | of the ceiling |',
  '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |',
];
for (const cell of cells) {
  const ceiling = cells.find((other) => other.backend === cell.backend && other.locking === '-')!;
  lines.push(
    `| ${cell.backend} | ${cell.locking} | ${cell.scenario} | ${cell.transfersPerSecond.toFixed(0)} | ` +
      `${cell.p50Ms.toFixed(2)} | ${cell.p99Ms.toFixed(2)} | ${cell.refused} | ` +
      `${(cell.transfersPerSecond / ceiling.transfersPerSecond).toFixed(2)} |`,
  );
}
const markdown = `${lines.join('\n')}\n`;
process.stdout.write(markdown);
await writeFile(resultsPath('wallet-ledger'), markdown);
