import { fileURLToPath } from 'node:url';
import { type MicroResult, runHttpBench, runMicro, writeReport } from '@sysdesign/load-tests';
import { EmbeddedPostgres, LAYOUTS, migrate, SnowflakeGenerator } from '@sysdesign/platform';
import { DEFAULT_EPOCH_MS } from '../src/config.js';
import { UlidGenerator } from '../src/domain/ulid.js';
import { UuidV7Generator } from '../src/domain/uuid.js';
import { PostgresTicketStore } from '../src/store/ticket-store.js';

/**
 * `pnpm --filter @sysdesign/id-generator bench`: the generators in-process (ids/s, and the
 * snowflake generator against its design ceiling of 4,096 ids per ms per worker), then the HTTP
 * API under load beside a bare-Fastify baseline measured in the same run.
 */

const SNOWFLAKE_CEILING_PER_SECOND = 4_096 * 1_000;
const SONYFLAKE_CEILING_PER_SECOND = 256 * 100;

function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

async function microBenchmarks(): Promise<MicroResult[]> {
  const results: MicroResult[] = [];
  const snowflake = new SnowflakeGenerator({
    node: { datacenterId: 1, workerId: 1 },
    epochMs: DEFAULT_EPOCH_MS,
  });
  const snowflakeResult = await runMicro('snowflake nextSync()', () => snowflake.nextSync(), { timeMs: 500 });
  snowflakeResult.note = `ids/s on one worker; ${percent(snowflakeResult.opsPerSecond / SNOWFLAKE_CEILING_PER_SECOND)} of the 4,096/ms ceiling`;
  results.push(snowflakeResult);

  const sonyflake = new SnowflakeGenerator({
    layout: LAYOUTS.sonyflake,
    node: { machineId: 1 },
    epochMs: DEFAULT_EPOCH_MS,
  });
  const sonyflakeResult = await runMicro('sonyflake nextSync()', () => sonyflake.nextSync(), { timeMs: 300 });
  sonyflakeResult.note = `ids/s; ${percent(sonyflakeResult.opsPerSecond / SONYFLAKE_CEILING_PER_SECOND)} of the 256 per 10 ms ceiling`;
  results.push(sonyflakeResult);

  const uuidV7 = new UuidV7Generator();
  results.push(await runMicro('uuidv7 next()', () => uuidV7.next(), { note: 'monotonic, 42-bit counter' }));
  const ulid = new UlidGenerator();
  results.push(await runMicro('ulid next()', () => ulid.next(), { note: 'monotonic factory' }));
  results.push(
    await runMicro('uuidv4 crypto.randomUUID()', () => crypto.randomUUID(), { note: 'Node built-in' }),
  );
  const id = snowflake.nextSync();
  results.push(await runMicro('snowflake decode()', () => snowflake.decode(id), { note: 'layout module' }));

  const embedded = await EmbeddedPostgres.open('memory');
  try {
    const sql = await embedded.forSchema('bench');
    await migrate(sql, fileURLToPath(new URL('../migrations', import.meta.url)));
    const tickets = await PostgresTicketStore.open(sql, 2);
    const ticketResult = await runMicro('ticket nextTickets(100) on PGlite', () => tickets.nextTickets(100), {
      timeMs: 500,
    });
    ticketResult.note = `requests/s; ${Math.round(ticketResult.opsPerSecond * 100).toLocaleString('en')} ids/s from one sequence`;
    results.push(ticketResult);
  } finally {
    await embedded.close();
  }
  return results;
}

const micro = await microBenchmarks();
const postgresUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL;
// The service child inherits this: production settings, as the images run (no dev-only assertions).
process.env.NODE_ENV = 'production';
const http = await runHttpBench({
  service: 'id-generator',
  target: { modulePath: new URL('./target.ts', import.meta.url) },
  scenarios: [
    { name: 'snowflake count=1', path: '/v1/ids?count=1' },
    { name: 'snowflake count=1000', path: '/v1/ids?count=1000', baseline: 'large' },
    { name: 'uuidv7 count=1', path: '/v1/ids?count=1&strategy=uuidv7' },
    { name: 'ticket count=1 (PGlite)', path: '/v1/ids?count=1&strategy=ticket' },
  ],
});
// With a real Postgres at hand, the ticket server as it would run in production: a network round trip.
const postgres = postgresUrl
  ? await (async () => {
      process.env.BENCH_DATABASE_URL = postgresUrl;
      return runHttpBench({
        service: 'id-generator',
        target: {
          modulePath: new URL('./target.ts', import.meta.url),
          exportName: 'createPostgresBenchTarget',
        },
        scenarios: [
          { name: 'ticket count=1 (Postgres)', path: '/v1/ids?count=1&strategy=ticket' },
          { name: 'multi-master count=1 (Postgres)', path: '/v1/ids?count=1&strategy=multi-master' },
        ],
      });
    })()
  : undefined;
if (postgres) http.scenarios.push(...postgres.scenarios);
await writeReport({
  service: 'id-generator',
  http,
  micro,
  notes: [
    'Service: NODE_ENV=production, embedded PGlite in memory, LOG_LEVEL=warn (no per-request logs), validation and metrics on.',
    'Baseline: bare Fastify answering a fixed JSON body of similar size (small, or ~22 KB for count=1000).',
    postgresUrl
      ? 'Postgres scenarios: a local PostgreSQL 15 server (BENCH_DATABASE_URL or DATABASE_URL).'
      : 'Set BENCH_DATABASE_URL (or DATABASE_URL) to add the ticket and multi-master strategies against a real Postgres.',
  ],
});
