import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from 'prom-client';

export type { Counter, Gauge, Histogram } from 'prom-client';

/**
 * Each service owns a prom-client registry (not the global one), so several services in one
 * process (`pnpm start`) and many apps in one test file never collide. Every series carries a
 * `service` label.
 */
export class ServiceMetrics {
  readonly registry = new Registry();

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
  }

  counter<Label extends string = never>(name: string, help: string, labelNames: readonly Label[] = []) {
    return new Counter<Label>({ name, help, labelNames, registers: [this.registry] });
  }

  gauge<Label extends string = never>(name: string, help: string, labelNames: readonly Label[] = []) {
    return new Gauge<Label>({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<Label extends string = never>(
    name: string,
    help: string,
    labelNames: readonly Label[] = [],
    buckets?: number[],
  ) {
    return new Histogram<Label>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      ...(buckets ? { buckets } : {}),
    });
  }
}

/** Latency buckets in seconds, from 100 µs to 10 s: our services answer in well under a millisecond. */
export const LATENCY_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

interface DurationSeries {
  /** method, route and status. */
  labels: Record<string, string>;
  /** Observations per bucket, not cumulative; the last counts those above every bound (`+Inf`). */
  bucketCounts: number[];
  sum: number;
  count: number;
}

/** What `Registry` reads from a metric to expose it (prom-client's `MetricObjectWithValues`). */
interface ExposedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * `http_request_duration_seconds`, counted without prom-client on the request path. A prom-client
 * histogram child still builds, validates and hashes its label set on every `observe()`; here each
 * route holds its own series, one per method and status, so a request only finds its bucket. The
 * registry reads the series through `get()`, as it reads any metric, and prints them as prom-client
 * prints a histogram.
 */
export class RequestDurations {
  readonly name = 'http_request_duration_seconds';
  readonly help = 'HTTP request duration by method, route and status';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series: DurationSeries[] = [];

  constructor(private readonly bounds: readonly number[] = LATENCY_BUCKETS_SECONDS) {}

  /** Counts one request of `route` into the series of its method and status. */
  recorder(route: string): (method: string, status: number, seconds: number) => void {
    // Methods and statuses a route answers are few, so these maps stay small.
    const byMethod = new Map<string, Map<number, DurationSeries>>();
    return (method, status, seconds) => {
      let byStatus = byMethod.get(method);
      if (byStatus === undefined) {
        byStatus = new Map();
        byMethod.set(method, byStatus);
      }
      let series = byStatus.get(status);
      if (series === undefined) {
        series = this.addSeries(method, route, status);
        byStatus.set(status, series);
      }
      this.observe(series, seconds);
    };
  }

  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: ExposedValue[];
  }> {
    const values = this.series.flatMap((series) => this.exposedValues(series));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const series of this.series) {
      series.bucketCounts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }

  private addSeries(method: string, route: string, status: number): DurationSeries {
    const series = {
      labels: { method, route, status: String(status) },
      bucketCounts: new Array<number>(this.bounds.length + 1).fill(0),
      sum: 0,
      count: 0,
    };
    this.series.push(series);
    return series;
  }

  private observe(series: DurationSeries, seconds: number): void {
    let bucket = 0;
    while (bucket < this.bounds.length && seconds > this.bounds[bucket]!) bucket++;
    series.bucketCounts[bucket]! += 1;
    series.sum += seconds;
    series.count += 1;
  }

  private exposedValues(series: DurationSeries): ExposedValue[] {
    const values: ExposedValue[] = [];
    let cumulative = 0;
    series.bucketCounts.forEach((count, bucket) => {
      cumulative += count;
      const bound = bucket < this.bounds.length ? this.bounds[bucket]! : '+Inf';
      values.push({
        labels: { le: bound, ...series.labels },
        value: cumulative,
        metricName: `${this.name}_bucket`,
      });
    });
    values.push({ labels: series.labels, value: series.sum, metricName: `${this.name}_sum` });
    values.push({ labels: series.labels, value: series.count, metricName: `${this.name}_count` });
    return values;
  }
}

/** The route label of requests no route matched (the not-found handler's 404s). */
export const UNMATCHED_ROUTE = 'unmatched';

type ResponseHook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;

/** An `onResponse` hook that counts the request into `route`'s series. */
function durationHook(durations: RequestDurations, route: string): ResponseHook {
  const record = durations.recorder(route);
  return (request, reply, done) => {
    record(request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  };
}

function withHook(hooks: ResponseHook | ResponseHook[] | undefined, hook: ResponseHook): ResponseHook[] {
  if (hooks === undefined) return [hook];
  return Array.isArray(hooks) ? [...hooks, hook] : [hooks, hook];
}

/**
 * Counts every route's requests by method, route pattern and status, and serves `/metrics`. Call it
 * before any route is added: each route gets its own `onResponse` hook as it is added, which knows
 * the route's pattern without asking the request for it. Returns the hook for the requests no route
 * matched, for the not-found handler.
 */
export function installHttpMetrics(app: FastifyInstance, metrics: ServiceMetrics): ResponseHook {
  const durations = new RequestDurations();
  // The registry accepts any object that reads like a metric; prom-client's types only name its own.
  metrics.registry.registerMetric(durations as unknown as Metric);
  app.addHook('onRoute', (route) => {
    // A new array: Fastify copies a GET route's options for its HEAD route before this runs.
    route.onResponse = withHook(
      route.onResponse as ResponseHook[] | undefined,
      durationHook(durations, route.url),
    );
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  return durationHook(durations, UNMATCHED_ROUTE);
}
