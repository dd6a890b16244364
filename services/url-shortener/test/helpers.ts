import {
  createLogger,
  type EmbeddedPostgres,
  type EventBus,
  loadConfig,
  type ServiceApp,
} from '@sysdesign/platform';
import { waitFor } from '@sysdesign/testkit';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';

export const TEST_AUTH_SECRET = 'test-secret-of-at-least-thirty-two-bytes!';

/** Builds the service the way main.ts does, from an environment, in the given schema. */
export async function buildFromEnv(
  env: Record<string, string>,
  options: { embedded?: EmbeddedPostgres; schema: string; bus?: EventBus; nowMs?: () => number },
): Promise<ServiceApp> {
  const config = loadConfig(configSchema, {
    LOG_LEVEL: 'silent',
    PGLITE_DIR: 'memory',
    AUTH_SECRET: TEST_AUTH_SECRET,
    // Tests wait for counts: flush as soon as the stream is quiet.
    CLICK_LINGER_MS: '5',
    FLUSH_IDLE_MS: '10',
    FLUSH_INTERVAL_MS: '200',
    // The limiter stays on (its code path runs in every test) with room for every test's creations.
    CREATE_RATE_LIMIT: '100000',
    ...env,
  });
  return buildService(
    config,
    {
      logger: createLogger('silent'),
      sqlSchema: options.schema,
      ...(options.embedded ? { embedded: options.embedded } : {}),
      ...(options.bus ? { bus: options.bus } : {}),
    },
    options.nowMs ? { nowMs: options.nowMs } : {},
  );
}

export interface LinkBody {
  code: string;
  shortUrl: string;
  url: string;
  createdAt: string;
  expiresAt: string | null;
  maxClicks: number | null;
}

export async function createLink(
  app: ServiceApp,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; link: LinkBody }> {
  const response = await app.inject({ method: 'POST', url: '/v1/urls', payload: body, headers });
  if (response.statusCode !== 201 && response.statusCode !== 200) {
    throw new Error(`POST /v1/urls: ${response.statusCode} ${response.body}`);
  }
  return { status: response.statusCode, link: response.json<LinkBody>() };
}

export async function totalClicks(app: ServiceApp, code: string): Promise<number> {
  const response = await app.inject({ url: `/v1/urls/${code}` });
  if (response.statusCode !== 200)
    throw new Error(`GET /v1/urls/${code}: ${response.statusCode} ${response.body}`);
  return response.json<{ clicks: { total: number } }>().clicks.total;
}

/** Waits until the link's counted total is `expected`, then checks it stays there a moment. */
export async function expectClicksSettle(
  app: ServiceApp,
  code: string,
  expected: number,
  timeoutMs = 10_000,
): Promise<void> {
  await waitFor(async () => (await totalClicks(app, code)) >= expected, `${expected} clicks on ${code}`, {
    timeoutMs,
    intervalMs: 20,
  });
  // Anything counted twice would show up in the next flush: give it one.
  await new Promise((resolve) => setTimeout(resolve, 150));
  const total = await totalClicks(app, code);
  if (total !== expected) throw new Error(`expected exactly ${expected} clicks on ${code}, counted ${total}`);
}

/** A counter's value in the app's /metrics, summed over the series matching `labels`. */
export async function metricValue(
  app: ServiceApp,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = (await app.inject({ url: '/metrics' })).body;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
