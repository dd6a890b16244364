import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  BackendUnavailableError,
  createService,
  defineProblems,
  loggerOptions,
  type ServiceApp,
} from '../src/index.js';

const problems = defineProblems({ PROBE_ERR_CONFLICT: { status: 409, title: 'Conflict' } });

/** Every log line the app writes, parsed. */
function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: pino(loggerOptions('info'), stream) };
}

describe('createService', () => {
  let app: ServiceApp;
  const logs = captureLogs();
  let backendUp = true;

  beforeAll(async () => {
    app = await createService({ name: 'probe' }, { BODY_LIMIT_BYTES: 1_024 }, { logger: logs.logger });
    app.readiness.add('database', () => {
      if (!backendUp) throw new Error('connection refused');
    });
    app.readiness.add(
      'slow-cache',
      () => new Promise((resolve) => setTimeout(resolve, backendUp ? 0 : 5_000)),
    );
    app.get(
      '/v1/items/:id',
      {
        schema: {
          params: z.object({ id: z.coerce.number().int().min(1) }),
          querystring: z.object({ view: z.enum(['full', 'short']).default('short') }),
        },
      },
      async (request) => {
        if (request.params.id === 409)
          throw problems.PROBE_ERR_CONFLICT('item 409 is taken', { itemId: 409 }, { 'retry-after': '3' });
        if (request.params.id === 500) throw new Error('secret database password is hunter2');
        if (request.params.id === 503) throw new BackendUnavailableError('postgres');
        return { id: request.params.id, view: request.query.view };
      },
    );
    app.post(
      '/v1/items',
      { schema: { body: z.object({ name: z.string().min(1).max(20), tags: z.array(z.string()).max(3) }) } },
      async (request) => ({
        created: request.body.name,
      }),
    );
  });
  afterAll(async () => app.close());

  it('answers /healthz and reports each readiness check, failing ones and timeouts included', async () => {
    // /readyz must never hang on a hung backend: the slow check times out and counts as failed.
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    backendUp = false;
    const started = Date.now();
    const notReady = await app.inject({ url: '/readyz' });
    expect(Date.now() - started).toBeLessThan(4_000);
    backendUp = true;
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json().checks.database).toMatchObject({ ok: false, error: 'connection refused' });
    expect(notReady.json().checks['slow-cache'].error).toMatch(/no answer within/);
  });

  it('turns a validation failure into a 400 problem naming each bad field and where it is', async () => {
    const response = await app.inject({ url: '/v1/items/abc?view=long' });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = response.json();
    expect(body).toMatchObject({
      type: 'urn:sysdesign:problem:err-validation',
      status: 400,
      code: 'ERR_VALIDATION',
      instance: '/v1/items/abc',
    });
    expect(body.errors[0]).toMatchObject({ in: 'params', field: 'id' });
    const bodyErrors = await app.inject({
      method: 'POST',
      url: '/v1/items',
      payload: { name: '', tags: ['a', 'b', 'c', 'd'] },
    });
    expect(
      bodyErrors
        .json()
        .errors.map((error: { field: string }) => error.field)
        .sort(),
    ).toEqual(['name', 'tags']);
  });

  it('renders a service problem with its code, extensions and headers', async () => {
    const response = await app.inject({ url: '/v1/items/409' });
    expect(response.statusCode).toBe(409);
    expect(response.headers['retry-after']).toBe('3');
    expect(response.json()).toMatchObject({
      code: 'PROBE_ERR_CONFLICT',
      detail: 'item 409 is taken',
      itemId: 409,
    });
  });

  it('hides the internals of an unexpected error behind a 500 and logs it', async () => {
    const response = await app.inject({ url: '/v1/items/500' });
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('hunter2');
    expect(response.body).not.toMatch(/at .*\.ts:\d+/);
    expect(logs.lines.some((line) => line.msg === 'unhandled error')).toBe(true);
  });

  it('maps an unavailable backend to 503 with Retry-After', async () => {
    const response = await app.inject({ url: '/v1/items/503' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json().code).toBe('ERR_SERVICE_UNAVAILABLE');
  });

  it.each([
    [
      'a body over the limit',
      {
        payload: JSON.stringify({ name: 'x'.repeat(2_000), tags: [] }),
        headers: { 'content-type': 'application/json' },
      },
      413,
    ],
    ['malformed JSON', { payload: '{"name": ', headers: { 'content-type': 'application/json' } }, 400],
    [
      'an unsupported media type',
      { payload: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      415,
    ],
    ['an empty JSON body', { payload: '', headers: { 'content-type': 'application/json' } }, 400],
  ])('answers %s with a problem, not a 500', async (_name, request, status) => {
    const response = await app.inject({ method: 'POST', url: '/v1/items', ...request });
    expect(response.statusCode).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('answers a URL that does not decode with a 400 problem, before any route runs', async () => {
    const response = await app.inject({ url: '/v1/items/%ZZ' });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json().code).toBe('ERR_MALFORMED_URL');
  });

  it('answers a path parameter past the router limit with a 414 problem of its own code', async () => {
    const response = await app.inject({ url: `/v1/items/${'x'.repeat(500)}` });
    expect(response.statusCode).toBe(414);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json().code).toBe('ERR_PATH_PARAMETER_TOO_LONG');
  });

  it('answers an unknown route with a 404 problem whose instance has no query string', async () => {
    const response = await app.inject({ url: '/v1/nothing?signature=abc' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'ERR_NOT_FOUND', instance: '/v1/nothing' });
  });

  it('takes a safe x-request-id from the caller, makes one otherwise, and logs it', async () => {
    const given = await app.inject({ url: '/v1/items/1', headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers['x-request-id']).toBe('abc-123');
    expect(logs.lines.some((line) => line.reqId === 'abc-123')).toBe(true);
    const made = await app.inject({ url: '/v1/items/1', headers: { 'x-request-id': '<script>' } });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('never logs authorization headers or signature query parameters', async () => {
    app.log.info({ req: { headers: { authorization: 'Bearer top-secret' } } }, 'probe');
    await app.inject({ url: '/v1/items/1?signature=s3cr3t&view=full' });
    const text = JSON.stringify(logs.lines);
    expect(text).not.toContain('top-secret');
    expect(text).not.toContain('s3cr3t');
    expect(text).toContain('[Redacted]');
  });

  it('exposes request durations by route pattern in /metrics', async () => {
    await app.inject({ url: '/v1/items/7' });
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(
      /http_request_duration_seconds_count\{[^}]*route="\/v1\/items\/:id",status="200"[^}]*\} \d+/,
    );
    expect(metrics).toContain('service="probe"');
    expect(metrics).toContain('process_cpu_user_seconds_total');
  });

  it('serves its OpenAPI document and the docs UI', async () => {
    const document = (await app.inject({ url: '/docs/json' })).json();
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/v1/items/{id}', '/v1/items']));
    expect(document.paths['/healthz']).toBeUndefined();
    const ui = await app.inject({ url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger');
  });
});

describe('graceful shutdown', () => {
  it('lets an in-flight request finish when the app closes', async () => {
    // SIGTERM runs app.close(): requests already running must complete, new ones are refused.
    const app = await createService({ name: 'drain' }, { LOG_LEVEL: 'silent' });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    app.get('/slow', async () => {
      await gate;
      return { done: true };
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const inFlight = fetch(`${url}/slow`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = app.close();
    release();
    const response = await inFlight;
    expect(await response.json()).toEqual({ done: true });
    await closing;
    await expect(fetch(`${url}/slow`)).rejects.toThrow();
  });
});
