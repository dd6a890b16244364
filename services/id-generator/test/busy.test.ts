import { Agent, request } from 'node:http';
import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import { freshSchemaName } from '@sysdesign/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildFromEnv } from './helpers.js';

/**
 * The work of making ids is bounded per moment and in waiting (`IdBudget`): a burst of the
 * largest requests is served or refused with 503 + Retry-After, and health checks are answered
 * meanwhile. Over real sockets, because that is where a stalled event loop shows. Before the
 * budget, /healthz waited 3 to 5 s behind such a burst on this machine.
 */

const HEALTH_LATENCY_MS_MAX = 750;

let embedded: EmbeddedPostgres;
let app: ServiceApp;
let base: string;
// Connections opened before the burst, as a load generator's and a health checker's are: opened
// all at once, a hundred new connections trickle in over a second of SYN retries instead.
const healthAgent = new Agent({ keepAlive: true, maxSockets: 1 });
const burstAgent = new Agent({ keepAlive: true, maxSockets: 100 });

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  app = await buildFromEnv({}, { embedded, schema: freshSchemaName('busy') });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  healthAgent.destroy();
  burstAgent.destroy();
  await app.close();
  await embedded.close();
});

interface Answer {
  status: number;
  retryAfter: string | undefined;
  /** The body's first 2,000 characters: enough for a problem, not a list of 10,000 ids. */
  body: string;
  durationMs: number;
}

function get(path: string, agent: Agent): Promise<Answer> {
  const startedMs = performance.now();
  return new Promise((resolve, reject) => {
    const outgoing = request(`${base}${path}`, { agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 2_000) body += chunk;
      });
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          retryAfter: response.headers['retry-after'],
          body,
          durationMs: performance.now() - startedMs,
        }),
      );
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

it('answers /healthz within the bound while 100 concurrent requests each ask for 10,000 ticket ids', async () => {
  // The ticket strategy is the costliest: a database round trip of 10,000 rows per request.
  expect((await get('/healthz', healthAgent)).status).toBe(200);
  await Promise.all(Array.from({ length: 100 }, () => get('/healthz', burstAgent)));
  let finished = false;
  const burst = Promise.all(
    Array.from({ length: 100 }, () => get('/v1/ids?strategy=ticket&count=10000', burstAgent)),
  ).finally(() => {
    finished = true;
  });
  const healthLatenciesMs: number[] = [];
  while (!finished) {
    const health = await get('/healthz', healthAgent);
    expect(health.status).toBe(200);
    healthLatenciesMs.push(health.durationMs);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const answers = await burst;
  expect(Math.max(...healthLatenciesMs)).toBeLessThan(HEALTH_LATENCY_MS_MAX);
  expect(healthLatenciesMs.length).toBeGreaterThan(3);
  const served = answers.filter((answer) => answer.status === 200);
  const refused = answers.filter((answer) => answer.status === 503);
  expect(served.length + refused.length).toBe(100);
  expect(served.length).toBeGreaterThanOrEqual(20);
  for (const answer of refused) {
    expect(answer.retryAfter).toBe('1');
    expect(JSON.parse(answer.body).code).toBe('IDGEN_ERR_BUSY');
  }
}, 60_000);
