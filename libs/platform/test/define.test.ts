import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ClockMovedBackwardsError,
  ConfigError,
  createLogger,
  defineProblems,
  defineService,
  EpochExhaustedError,
  GeneratorUnavailableError,
  loadConfig,
  openServiceSql,
  type ServiceApp,
  type Sql,
  serviceVars,
  snowflakeVars,
  startServiceSnowflake,
  WORKER_LEASE_MIGRATIONS,
} from '../src/index.js';

const configSchema = z.object({
  ...serviceVars({ name: 'probe', port: 3099 }),
  PGLITE_DIR: z.string().default('memory'),
  ...snowflakeVars,
});
type Config = z.infer<typeof configSchema>;

const configOf = (env: Record<string, string> = {}): Config =>
  loadConfig(configSchema, { LOG_LEVEL: 'silent', ...env });
const context = { logger: createLogger('silent') };

class ItemTakenError extends Error {
  override name = 'ItemTakenError';
}
const problems = defineProblems({ PROBE_ERR_TAKEN: { status: 409, title: 'Item taken' } });

const apps: ServiceApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

describe('defineService: the start', () => {
  it('closes the Sql it opened when a later opener fails, and rethrows that failure', async () => {
    // WORKER_LEASE_STORE=redis without REDIS_URL: the snowflake opener refuses after Sql is open.
    let sql: Sql | undefined;
    const probe = defineService({
      name: 'probe',
      description: 'A probe.',
      defaultPort: 3099,
      configSchema,
      async setup(app, config, serviceContext) {
        sql = await openServiceSql(app, config, serviceContext, { migrations: [WORKER_LEASE_MIGRATIONS] });
        await startServiceSnowflake(app, config, { sql });
      },
    });
    await expect(probe.build(configOf({ WORKER_LEASE_STORE: 'redis' }), context)).rejects.toBeInstanceOf(
      ConfigError,
    );
    expect(sql).toBeDefined();
    await expect(sql!.query('SELECT 1')).rejects.toThrow(/closed/);
  });

  it('registers each opener’s readiness check and close, closing the worker before the Sql', async () => {
    const closing: string[] = [];
    const probe = defineService({
      name: 'probe',
      description: 'A probe.',
      defaultPort: 3099,
      configSchema,
      async setup(app, config, serviceContext) {
        const sql = await openServiceSql(app, config, serviceContext, {
          migrations: [WORKER_LEASE_MIGRATIONS],
        });
        const worker = await startServiceSnowflake(app, config, { sql });
        app.lifecycle.defer('probe', async () => {
          // The worker releases its lease through Sql: both must still be open when the last opened part closes.
          closing.push(`probe: worker ready ${worker.ready}`);
          await sql.ping();
        });
      },
    });
    const app = await probe.build(configOf(), context);
    expect(app.lifecycle.open).toEqual(['postgres', 'snowflake worker', 'probe']);
    const ready = (await app.inject({ url: '/readyz' })).json();
    expect(Object.keys(ready.checks).sort()).toEqual(['postgres', 'worker-lease']);
    expect(ready.status).toBe('ready');
    await app.close();
    expect(closing).toEqual(['probe: worker ready true']);
    expect(app.lifecycle.open).toEqual([]);
  });

  it('closes the lifecycle only after in-flight requests have been answered, without waiting out keep-alive', async () => {
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const probe = defineService({
      name: 'probe',
      description: 'A probe.',
      defaultPort: 3099,
      configSchema,
      setup(app) {
        app.lifecycle.defer('backend', () => void events.push('backend closed'));
        app.get('/slow', async () => {
          await gate;
          events.push('answered');
          return { done: true };
        });
      },
    });
    const app = await probe.build(configOf(), context);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    // fetch keeps its connection alive: once answered, it must not hold the close for the
    // keep-alive timeout (72 s in Fastify), far past any shutdown timeout.
    const inFlight = fetch(`${url}/slow`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = app.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    expect(await (await inFlight).json()).toEqual({ done: true });
    const answeredAt = Date.now();
    await closing;
    expect(Date.now() - answeredAt).toBeLessThan(2_000);
    expect(events).toEqual(['answered', 'backend closed']);
  });

  it('passes build options through to setup (the test seams)', async () => {
    let seen: number | undefined;
    const probe = defineService<typeof configSchema, { nowMs: () => number }>({
      name: 'probe',
      description: 'A probe.',
      defaultPort: 3099,
      configSchema,
      setup(_app, _config, _context, options) {
        seen = options.nowMs?.();
      },
    });
    apps.push(await probe.build(configOf(), context, { nowMs: () => 42 }));
    expect(seen).toBe(42);
    expect(probe.description).toBe('A probe.');
  });
});

describe('defineService: errors', () => {
  const throwing = (error: unknown) =>
    defineService({
      name: 'probe',
      description: 'A probe.',
      defaultPort: 3099,
      configSchema,
      mapError: (candidate, config) => {
        if (candidate instanceof ItemTakenError)
          return problems.PROBE_ERR_TAKEN(
            candidate.message,
            { bodyLimitBytes: config.BODY_LIMIT_BYTES },
            { 'retry-after': '7' },
          );
        return undefined;
      },
      setup(app) {
        app.get('/fail', async () => {
          throw error;
        });
      },
    });

  async function failWith(error: unknown) {
    const app = await throwing(error).build(configOf(), context);
    apps.push(app);
    return app.inject({ url: '/fail' });
  }

  it('maps a domain error thrown by a route through the service’s mapper, which may quote the config', async () => {
    const response = await failWith(new ItemTakenError('item 7 is taken'));
    expect(response.statusCode).toBe(409);
    expect(response.headers['retry-after']).toBe('7');
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({
      code: 'PROBE_ERR_TAKEN',
      detail: 'item 7 is taken',
      bodyLimitBytes: 1_048_576,
    });
  });

  it('answers an error no mapper knows with a 500 that says nothing internal', async () => {
    const response = await failWith(new Error('password hunter2 at db.ts:12'));
    expect(response.statusCode).toBe(500);
    expect(response.json().code).toBe('ERR_INTERNAL');
    expect(response.body).not.toContain('hunter2');
    expect(response.body).not.toContain('db.ts');
  });

  it('maps the snowflake generator’s refusals for every service, with Retry-After when a retry can succeed', async () => {
    const clock = await failWith(new ClockMovedBackwardsError(2_500, 5));
    expect(clock.statusCode).toBe(503);
    expect(clock.headers['retry-after']).toBe('3');
    expect(clock.json()).toMatchObject({
      code: 'ERR_ID_CLOCK_MOVED_BACKWARDS',
      rollbackMs: 2_500,
      maxRollbackMs: 5,
    });
    const unavailable = await failWith(new GeneratorUnavailableError('worker lease lost'));
    expect(unavailable.statusCode).toBe(503);
    expect(unavailable.headers['retry-after']).toBe('1');
    expect(unavailable.json().code).toBe('ERR_ID_GENERATOR_UNAVAILABLE');
    const exhausted = await failWith(new EpochExhaustedError('time field exhausted'));
    expect(exhausted.statusCode).toBe(503);
    expect(exhausted.headers['retry-after']).toBeUndefined();
    expect(exhausted.json().code).toBe('ERR_ID_EPOCH_EXHAUSTED');
  });
});
