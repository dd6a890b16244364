import { createRedis, EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import {
  deleteRedisPrefix,
  describeWith,
  dropSchema,
  freshRedisPrefix,
  freshSchemaName,
  postgresBackend,
  redisBackend,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFromEnv, getIds, workerIdOf } from './helpers.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const DECIMAL = /^[1-9][0-9]*$/;

function strictlyIncreasing(values: bigint[] | string[]): boolean {
  return values.every((value, index) => index === 0 || value > values[index - 1]!);
}

/** The HTTP behaviour of the service, whichever database backs it. */
function apiContract(open: (env?: Record<string, string>) => Promise<ServiceApp>) {
  let app: ServiceApp;
  beforeAll(async () => {
    app = await open();
  });
  afterAll(async () => app.close());

  it('returns one snowflake id as a decimal string by default', async () => {
    const body = await getIds(app, '');
    expect(body.strategy).toBe('snowflake');
    expect(body.ids).toHaveLength(1);
    expect(body.ids[0]).toMatch(DECIMAL);
  });

  it.each([
    ['snowflake', DECIMAL, 'numeric'],
    ['ticket', DECIMAL, 'numeric'],
    ['multi-master', DECIMAL, 'none'],
    ['uuidv4', UUID_V4, 'none'],
    ['uuidv7', UUID_V7, 'text'],
    ['ulid', ULID, 'text'],
  ] as const)(
    'issues %s ids: right format, unique, ordered where the design promises',
    async (strategy, format, order) => {
      // Each strategy's claim: format, uniqueness across requests, and (where promised) order.
      const first = await getIds(app, `strategy=${strategy}&count=200`);
      const second = await getIds(app, `strategy=${strategy}&count=200`);
      const all = [...first.ids, ...second.ids];
      expect(first.strategy).toBe(strategy);
      for (const id of all) expect(id).toMatch(format);
      expect(new Set(all).size).toBe(400);
      if (order === 'numeric') expect(strictlyIncreasing(all.map(BigInt))).toBe(true);
      if (order === 'text') expect(strictlyIncreasing(all)).toBe(true);
    },
  );

  it('serves 10,000 snowflake ids in one request, strictly increasing', async () => {
    const { ids } = await getIds(app, 'count=10000');
    expect(ids).toHaveLength(10_000);
    expect(strictlyIncreasing(ids.map(BigInt))).toBe(true);
  });

  it('keeps ids unique across 20 concurrent requests of every strategy', async () => {
    const strategies = ['snowflake', 'ticket', 'multi-master', 'uuidv7', 'ulid'];
    const bodies = await Promise.all(
      Array.from({ length: 20 }, (_, index) => getIds(app, `strategy=${strategies[index % 5]}&count=100`)),
    );
    for (const strategy of strategies) {
      const ids = bodies.filter((body) => body.strategy === strategy).flatMap((body) => body.ids);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it('decodes a snowflake id into its time, datacenter, worker and sequence', async () => {
    const before = Date.now();
    const { ids } = await getIds(app, 'count=3');
    const response = await app.inject({ url: `/v1/ids/${ids[2]}/decode` });
    expect(response.statusCode).toBe(200);
    const decoded = response.json();
    expect(decoded).toMatchObject({ id: ids[2], datacenterId: 0, workerId: await workerIdOf(app) });
    expect(Date.parse(decoded.timestamp)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(decoded.timestamp)).toBeLessThanOrEqual(Date.now());
    expect(decoded.sequence).toBeGreaterThanOrEqual(0);
  });

  it.each([
    ['count=0', 'count'],
    ['count=-1', 'count'],
    ['count=10001', 'count'],
    ['count=1.5', 'count'],
    ['count=abc', 'count'],
    ['count=', 'count'],
    ['count=99999999999999999999999', 'count'],
    ['strategy=snowflakes', 'strategy'],
    ['strategy=', 'strategy'],
    ['strategy=SNOWFLAKE', 'strategy'],
    [`strategy=${'x'.repeat(5000)}`, 'strategy'],
  ])('rejects %s with a 400 problem naming the field', async (query, field) => {
    const response = await app.inject({ url: `/v1/ids?${query}` });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = response.json();
    expect(problem).toMatchObject({ status: 400, code: 'ERR_VALIDATION' });
    expect(problem.errors[0]).toMatchObject({ in: 'query', field });
  });

  it.each(['abc', '-1', '01', '1.5', '9223372036854775808', '12345678901234567890', '%20'])(
    'rejects decoding %s with a 400 problem naming params.id',
    async (id) => {
      const response = await app.inject({ url: `/v1/ids/${id}/decode` });
      expect(response.statusCode).toBe(400);
      expect(response.json().errors[0]).toMatchObject({ in: 'params', field: 'id' });
    },
  );

  it('answers unknown routes with a 404 problem and echoes a safe x-request-id', async () => {
    const response = await app.inject({ url: '/v1/nope', headers: { 'x-request-id': 'trace-42' } });
    expect(response.statusCode).toBe(404);
    expect(response.headers['x-request-id']).toBe('trace-42');
    expect(response.json()).toMatchObject({ status: 404, code: 'ERR_NOT_FOUND' });
    const hostile = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'a b\nc' } });
    expect(hostile.headers['x-request-id']).not.toBe('a b\nc');
  });

  it('counts issued ids by strategy and reports ready with its lease held', async () => {
    await getIds(app, 'strategy=ulid&count=7');
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/idgen_ids_issued_total\{strategy="ulid",service="id-generator"\} \d+/);
    expect(metrics).toMatch(
      /http_request_duration_seconds_count\{[^}]*method="GET",route="\/v1\/ids",status="200"/,
    );
    const ready = await app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks['worker-lease'].ok).toBe(true);
  });

  it('publishes its OpenAPI document with both routes', async () => {
    const document = (await app.inject({ url: '/docs/json' })).json();
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/v1/ids', '/v1/ids/{id}/decode']));
  });

  it('gives two instances with WORKER_ID=auto on the same database different worker ids', async () => {
    // The second instance competes for the same lease table and must pick another slot.
    const other = await open();
    try {
      expect(await workerIdOf(other)).not.toBe(await workerIdOf(app));
      const [mine, theirs] = await Promise.all([getIds(app, 'count=1000'), getIds(other, 'count=1000')]);
      expect(new Set([...mine.ids, ...theirs.ids]).size).toBe(2_000);
    } finally {
      await other.close();
    }
  });

  it('refuses to start a second instance with the same fixed WORKER_ID', async () => {
    const env = { WORKER_ID: '9', WORKER_LEASE_TTL_MS: '1000' };
    const holder = await open(env);
    try {
      await expect(open(env)).rejects.toThrow(/worker id 9 is held/);
    } finally {
      await holder.close();
    }
  });
}

describe('id-generator API on embedded PGlite', () => {
  let embedded: EmbeddedPostgres;
  const schema = freshSchemaName('idgen');
  beforeAll(async () => {
    embedded = await EmbeddedPostgres.open('memory');
  });
  afterAll(async () => embedded.close());
  apiContract((env = {}) => buildFromEnv(env, { embedded, schema }));

  it('serves Sonyflake ids and decodes their machine id', async () => {
    const app = await buildFromEnv({ ID_LAYOUT: 'sonyflake' }, { embedded, schema: freshSchemaName('sony') });
    try {
      const { ids } = await getIds(app, 'count=600');
      expect(strictlyIncreasing(ids.map(BigInt))).toBe(true);
      const decoded = (await app.inject({ url: `/v1/ids/${ids[0]}/decode` })).json();
      expect(decoded).toMatchObject({ machineId: await workerIdOf(app) });
      expect(decoded).not.toHaveProperty('workerId');
    } finally {
      await app.close();
    }
  });
});

describeWith(await redisBackend(), 'worker leases in Redis', ({ url }) => {
  let embedded: EmbeddedPostgres;
  const prefix = freshRedisPrefix('idgen');
  beforeAll(async () => {
    embedded = await EmbeddedPostgres.open('memory');
  });
  afterAll(async () => {
    await embedded.close();
    await deleteRedisPrefix(url, prefix);
  });

  it('gives two instances leasing from Redis different worker ids, and frees them on close', async () => {
    // WORKER_LEASE_STORE=redis: the same lease semantics through Lua scripts instead of SQL.
    const env = { REDIS_URL: url, WORKER_LEASE_STORE: 'redis', REDIS_KEY_PREFIX: prefix };
    const schema = freshSchemaName('redislease');
    const [a, b] = [
      await buildFromEnv(env, { embedded, schema }),
      await buildFromEnv(env, { embedded, schema }),
    ];
    try {
      expect(await workerIdOf(a)).not.toBe(await workerIdOf(b));
      expect((await a.inject({ url: '/readyz' })).json().checks.redis.ok).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
    const keys = await scanKeys(url, `${prefix}*lease:*`);
    expect(keys).toEqual([]);
  });
});

async function scanKeys(url: string, pattern: string): Promise<string[]> {
  const redis = await createRedis({ url });
  try {
    return await redis.keys(pattern);
  } finally {
    redis.disconnect();
  }
}

describeWith(await postgresBackend(), 'id-generator API on Postgres', ({ url }) => {
  const schema = freshSchemaName('idgen');
  afterAll(async () => dropSchema(url, schema));
  apiContract((env = {}) => buildFromEnv({ DATABASE_URL: url, ...env }, { schema }));
});
