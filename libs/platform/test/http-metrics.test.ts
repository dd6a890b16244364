import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createService, LATENCY_BUCKETS_SECONDS, type ServiceApp } from '../src/index.js';

/** Every sample of `http_request_duration_seconds` in a /metrics page, labels parsed. */
function durationSamples(page: string) {
  const sample = /^http_request_duration_seconds_(bucket|sum|count)\{([^}]*)\} (\S+)$/;
  return page.split('\n').flatMap((line) => {
    const match = sample.exec(line);
    if (!match) return [];
    const labels = Object.fromEntries(
      [...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map(([, name, value]) => [name!, value!]),
    );
    return [{ kind: match[1]!, labels, value: Number(match[3]) }];
  });
}

describe('http_request_duration_seconds', () => {
  let app: ServiceApp;
  let samples: ReturnType<typeof durationSamples>;

  const seriesOf = (method: string, route: string, status: string) =>
    samples.filter(
      ({ labels }) => labels.method === method && labels.route === route && labels.status === status,
    );
  const countOf = (method: string, route: string, status: string) =>
    seriesOf(method, route, status).find((sample) => sample.kind === 'count')?.value;

  beforeAll(async () => {
    app = await createService({ name: 'metered' }, {}, { logger: pino({ level: 'silent' }) });
    app.route({
      method: ['GET', 'DELETE'],
      url: '/things/:id',
      schema: { params: z.object({ id: z.coerce.number().int() }) },
      handler: async (request, reply) => (request.method === 'DELETE' ? reply.code(204).send() : { id: 1 }),
    });
    app.post('/things', async (_request, reply) => reply.code(201).send({ id: 2 }));
    const requests = [
      { method: 'GET', url: '/things/1' },
      { method: 'GET', url: '/things/2' },
      { method: 'GET', url: '/things/nope' },
      { method: 'DELETE', url: '/things/1' },
      { method: 'HEAD', url: '/things/1' },
      { method: 'POST', url: '/things' },
      { method: 'GET', url: '/nowhere' },
    ] as const;
    for (const request of requests) await app.inject(request);
    samples = durationSamples((await app.inject({ url: '/metrics' })).body);
  });
  afterAll(() => app.close());

  it('counts each request once, by method, route pattern and status', () => {
    expect(countOf('GET', '/things/:id', '200')).toBe(2);
    expect(countOf('GET', '/things/:id', '400')).toBe(1);
    expect(countOf('DELETE', '/things/:id', '204')).toBe(1);
    expect(countOf('HEAD', '/things/:id', '200')).toBe(1);
    expect(countOf('POST', '/things', '201')).toBe(1);
  });

  it('counts the requests no route matched under one route label', () => {
    expect(countOf('GET', 'unmatched', '404')).toBe(1);
  });

  it('keeps a histogram per series: cumulative buckets up to +Inf, which equals the count', () => {
    const series = seriesOf('GET', '/things/:id', '200');
    const buckets = series.filter((sample) => sample.kind === 'bucket');
    expect(buckets.map((bucket) => bucket.labels.le)).toEqual([
      ...LATENCY_BUCKETS_SECONDS.map(String),
      '+Inf',
    ]);
    const counts = buckets.map((bucket) => bucket.value);
    expect(counts).toEqual([...counts].sort((left, right) => left - right));
    expect(counts.at(-1)).toBe(2);
    expect(series.find((sample) => sample.kind === 'sum')?.value).toBeGreaterThan(0);
    expect(series.every((sample) => sample.labels.service === 'metered')).toBe(true);
  });

  it('starts over when the registry resets its metrics', async () => {
    app.metrics.registry.resetMetrics();
    await app.inject({ url: '/things/1' });
    samples = durationSamples(await app.metrics.registry.metrics());
    expect(countOf('GET', '/things/:id', '200')).toBe(1);
    expect(countOf('POST', '/things', '201')).toBe(0);
  });
});
