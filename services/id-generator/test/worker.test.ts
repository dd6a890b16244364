import {
  ClockMovedBackwardsError,
  createLogger,
  createService,
  EmbeddedPostgres,
  MemoryWorkerLeaseStore,
  migrate,
  PostgresWorkerLeaseStore,
  ServiceMetrics,
  SnowflakeGenerator,
  type Sql,
  startLeasedSnowflake,
  WORKER_LEASE_MIGRATIONS,
  WorkerLease,
} from '@sysdesign/platform';
import { freshSchemaName } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerApp } from '../src/app.js';
import { DEFAULT_EPOCH_MS, SERVICE_NAME } from '../src/config.js';
import { UlidOverflowError } from '../src/domain/ulid.js';
import { mapIdGeneratorError } from '../src/errors.js';
import { createIdMetrics, snowflakeObserver } from '../src/metrics.js';
import { MemoryTicketStore } from '../src/store/ticket-store.js';

const logger = createLogger('silent');
/** An app with the id-generator's error mapping, over parts the test makes. */
const createApp = () =>
  createService({ name: SERVICE_NAME, mapError: mapIdGeneratorError }, { LOG_LEVEL: 'silent' });
const redisKeyPrefix = 'id-generator:';
const baseConfig = {
  ID_LAYOUT: 'snowflake' as const,
  ID_EPOCH_MS: DEFAULT_EPOCH_MS,
  DATACENTER_ID: 2,
  WORKER_LEASE_STORE: 'postgres' as const,
  WORKER_LEASE_TTL_MS: 600,
  MAX_CLOCK_ROLLBACK_MS: 5,
};

/** A clock running at real speed but offset from the real one. */
const offsetClock = (offsetMs: number) => ({ nowMs: () => Date.now() + offsetMs });

describe('restarting a worker on a clock that is behind its last id', () => {
  let embedded: EmbeddedPostgres;
  let sql: Sql;
  const observer = snowflakeObserver(createIdMetrics(new ServiceMetrics('id-generator-test')));

  beforeAll(async () => {
    embedded = await EmbeddedPostgres.open('memory');
    sql = await embedded.forSchema(freshSchemaName('worker'));
    await migrate(sql, WORKER_LEASE_MIGRATIONS);
  });
  afterAll(async () => embedded.close());

  it('refuses ids after a clean restart 2 s behind, instead of duplicating (known failure of public generators)', async () => {
    // First life: real clock; ids issued, then a clean stop records the last id's time.
    const first = await startLeasedSnowflake(
      { ...baseConfig, WORKER_ID: 5 },
      { sql, logger, observer, redisKeyPrefix },
    );
    const issued = await first.generator.nextBatch(5_000);
    await first.stop();
    // Second life on the same worker id, clock 2 s slow: every id would collide with the first life's.
    const second = await startLeasedSnowflake(
      { ...baseConfig, WORKER_ID: 5 },
      { sql, logger, observer, redisKeyPrefix, clock: offsetClock(-2_000) },
    );
    expect(() => second.generator.tryNext()).toThrow(ClockMovedBackwardsError);
    await second.stop();
    // Third life, only 3 ms slow: within the bound, so it waits and then issues larger ids.
    const third = await startLeasedSnowflake(
      { ...baseConfig, WORKER_ID: 5 },
      { sql, logger, observer, redisKeyPrefix, clock: offsetClock(-3) },
    );
    const [next] = await third.generator.nextBatch(1);
    expect(next! > issued.at(-1)!).toBe(true);
    await third.stop();
  });

  it('starts a successor after a crashed holder’s whole reach, even with its own clock in step', async () => {
    // The crashed holder leased worker 6 and recorded a reach 300 ms ahead, then died without
    // releasing. Its ids may use any time up to that reach, so the successor must start after it.
    const store = new PostgresWorkerLeaseStore(sql);
    const slot = { datacenterId: baseConfig.DATACENTER_ID, workerId: 6 };
    await store.tryAcquire(slot, 'crashed-holder', baseConfig.WORKER_LEASE_TTL_MS);
    const reach = Date.now() + 300;
    await store.renew(slot, 'crashed-holder', baseConfig.WORKER_LEASE_TTL_MS, reach);
    const crashed = new SnowflakeGenerator({ node: slot, epochMs: DEFAULT_EPOCH_MS });
    const crashedIds = await crashed.nextBatch(100);
    const successor = await startLeasedSnowflake(
      { ...baseConfig, WORKER_ID: 6 },
      { sql, logger, observer, redisKeyPrefix },
    );
    try {
      const [first] = await successor.generator.nextBatch(1);
      expect(first! > crashedIds.at(-1)!).toBe(true);
      expect(successor.generator.decode(first!).timestamp.getTime()).toBeGreaterThan(reach);
    } finally {
      await successor.stop();
    }
  });
});

describe('clock rollback over HTTP', () => {
  it('answers 503 problem+json with Retry-After when the clock is too far behind, and 200 once it catches up', async () => {
    let now = Date.now();
    const generator = new SnowflakeGenerator({
      node: { datacenterId: 0, workerId: 1 },
      epochMs: DEFAULT_EPOCH_MS,
      clock: { nowMs: () => now },
      maxRollbackMs: 5,
    });
    const app = await createApp();
    const metrics = createIdMetrics(app.metrics);
    generator.tryNext();
    registerApp(app, { snowflake: generator, tickets: new MemoryTicketStore(2), metrics });
    now -= 3_500;
    const refused = await app.inject({ url: '/v1/ids' });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('4');
    expect(refused.json()).toMatchObject({
      code: 'ERR_ID_CLOCK_MOVED_BACKWARDS',
      rollbackMs: 3_500,
      maxRollbackMs: 5,
    });
    now += 3_501;
    expect((await app.inject({ url: '/v1/ids' })).statusCode).toBe(200);
    await app.close();
  });

  it('answers 503 while the worker lease is lost', async () => {
    const generator = new SnowflakeGenerator({
      node: { datacenterId: 0, workerId: 1 },
      epochMs: DEFAULT_EPOCH_MS,
    });
    const app = await createApp();
    registerApp(app, {
      snowflake: generator,
      tickets: new MemoryTicketStore(2),
      metrics: createIdMetrics(app.metrics),
    });
    generator.suspend('worker id 1 was taken over by another instance');
    const response = await app.inject({ url: '/v1/ids' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ code: 'ERR_ID_GENERATOR_UNAVAILABLE' });
    await app.close();
  });
});

describe('the id-generator’s own errors', () => {
  it('answers a ULID whose time field overflows like an exhausted snowflake epoch: 503, no Retry-After', () => {
    const problem = mapIdGeneratorError(new UlidOverflowError('time exceeds 48 bits'));
    expect(problem).toMatchObject({ status: 503, code: 'ERR_ID_EPOCH_EXHAUSTED', headers: {} });
    expect(mapIdGeneratorError(new Error('anything else'))).toBeUndefined();
  });
});

describe('lease renewal keeps the generator within reach', () => {
  it('refuses ids when the lease store stops answering and the reach runs out', async () => {
    // A database outage: renewals fail, the reach is not extended, and issuance stops at it.
    const store = new MemoryWorkerLeaseStore();
    const failing = {
      tryAcquire: store.tryAcquire.bind(store),
      renew: async (...args: Parameters<typeof store.renew>) => {
        if (outage) throw new Error('database unreachable');
        return store.renew(...args);
      },
      release: store.release.bind(store),
    };
    let outage = false;
    const lease = await WorkerLease.acquire({ store: failing, datacenterId: 0, candidates: [1], ttlMs: 300 });
    const generator = new SnowflakeGenerator({
      node: { datacenterId: 0, workerId: 1 },
      epochMs: DEFAULT_EPOCH_MS,
    });
    lease.start({
      reachExtended: (ms) => generator.setCeiling(ms),
      lost: () => undefined,
      regained: () => undefined,
    });
    outage = true;
    const deadline = Date.now() + 3_000;
    let refused = false;
    while (!refused && Date.now() < deadline) {
      try {
        generator.nextSync();
        await new Promise((resolve) => setTimeout(resolve, 20));
      } catch (error) {
        refused = /not renewed in time/.test((error as Error).message);
      }
    }
    expect(refused).toBe(true);
    outage = false;
    await lease.stop(generator.lastIssuedMs);
  });
});
