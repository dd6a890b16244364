import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import { expectForgedRequestIdHandled, FORGED_REQUEST_IDS, freshSchemaName } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, buildFromEnv, submit } from './helpers.js';

/**
 * Hostile input on every endpoint: each body malformed, wrong-typed, huge, with malformed Unicode
 * or `__proto__`; path parameters and queries spelled every wrong way; forged headers. The answer
 * is never a 500, and every refusal is problem+json with a stable code (the scheduler's
 * JOBSCHED_ERR_*, the library's JOBQ_ERR_* or the platform's ERR_*).
 */

const STABLE_CODE = /^(JOBSCHED_ERR_[A-Z_]+|JOBQ_ERR_[A-Z_]+|ERR_[A-Z_]+)$/;
const HUGE = 'x'.repeat(300_000);

let embedded: EmbeddedPostgres;
let app: ServiceApp;
let auth: Record<string, string>;
let jobId: string;

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  app = await buildFromEnv(
    { BUILTIN_WORKERS_ENABLED: 'false' },
    { embedded, schema: freshSchemaName('hostile') },
  );
  auth = await bearer();
  jobId = (await submit(app, { queue: 'default', payload: { seed: true } }, auth)).id;
});
afterAll(async () => {
  await app.close();
  await embedded.close();
});

type Injected = Awaited<ReturnType<ServiceApp['inject']>>;

function expectHandled(response: Injected, label: string): void {
  expect(response.statusCode, `${label}: ${response.body.slice(0, 300)}`).toBeLessThan(500);
  if (response.statusCode < 400) return;
  expect(response.headers['content-type'], label).toMatch(/^application\/problem\+json/);
  const problem = response.json();
  expect(problem.code, label).toMatch(STABLE_CODE);
  expect(problem.status, label).toBe(response.statusCode);
}

const hostileBodies: Array<[string, string]> = [
  ['no fields', '{}'],
  ['null', 'null'],
  ['an array', '[]'],
  ['a number', '42'],
  ['malformed JSON', '{"queue": '],
  ['a lone surrogate escape', '{"queue": "default\\ud800", "payload": "\\ud800", "ref": "\\ud800"}'],
  [
    'raw invalid UTF-8',
    Buffer.from([0x7b, 0x22, 0x71, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('latin1'),
  ],
  [
    '__proto__',
    '{"__proto__": {"admin": true}, "queue": "default", "payload": {"__proto__": {"admin": true}}}',
  ],
  ['deep nesting', `{"queue": "default", "payload": ${'['.repeat(5_000)}${']'.repeat(5_000)}}`],
  ['a huge string', JSON.stringify({ queue: HUGE, payload: HUGE, cron: HUGE, url: HUGE, fence: HUGE })],
  [
    'wrong types',
    '{"queue": 1, "payload": 2, "delayMs": "5", "priority": {}, "jobs": "x", "fence": 7, "limit": "all", "cron": []}',
  ],
  [
    'negative and huge numbers',
    '{"queue": "default", "payload": 1, "delayMs": -1, "priority": 1e308, "maxAttempts": 0, "limit": -3, "leaseMs": 1e20}',
  ],
  ['unknown fields', '{"queue": "default", "payload": 1, "state": "succeeded", "attempts": 99}'],
  ['an unknown queue', '{"queue": "../../etc", "payload": 1, "cron": "* * * * *", "url": "http://x"}'],
  ['a bad fence', '{"fence": "-1", "error": {"message": "x"}}'],
  ['a fence past bigint', '{"fence": "99999999999999999999", "output": 1}'],
  [
    'a 19-digit fence past bigint',
    '{"fence": "9999999999999999999", "output": 1, "error": {"message": "x"}}',
  ],
  [
    'a DAG with 2000 jobs',
    JSON.stringify({
      jobs: Array.from({ length: 2_000 }, (_, i) => ({ ref: `j${i}`, queue: 'default', payload: 1 })),
    }),
  ],
  [
    'a DAG with a self-loop',
    '{"jobs": [{"ref": "a", "queue": "default", "payload": 1, "dependsOn": ["a"]}]}',
  ],
  [
    'a DAG with duplicate refs',
    '{"jobs": [{"ref": "a", "queue": "default", "payload": 1}, {"ref": "a", "queue": "default", "payload": 2}]}',
  ],
  ['limits out of range', '{"concurrencyMax": 0, "rate": {"max": -1, "intervalMs": 1e12}}'],
  ['a rate without its interval', '{"concurrencyMax": 1.5, "rate": {"max": 1}}'],
  ['a cron of 7 fields', '{"queue": "default", "cron": "* * * * * * *", "payload": 1}'],
  [
    'an unknown time zone',
    '{"queue": "default", "cron": "* * * * *", "timeZone": "Mars/Olympus", "payload": 1}',
  ],
];

const bodyEndpoints = (): Array<{ method: 'POST' | 'PUT'; url: string }> => [
  { method: 'POST', url: '/v1/jobs' },
  { method: 'POST', url: '/v1/dags' },
  { method: 'PUT', url: '/v1/schedules/hostile' },
  { method: 'POST', url: '/v1/queues/default/lease' },
  { method: 'POST', url: `/v1/jobs/${jobId}/heartbeat` },
  { method: 'POST', url: `/v1/jobs/${jobId}/complete` },
  { method: 'POST', url: `/v1/jobs/${jobId}/fail` },
  { method: 'POST', url: '/v1/workers' },
  { method: 'PUT', url: '/v1/queues/default/limits' },
];

describe('bodies', () => {
  it.each(hostileBodies)('handles %s on every body endpoint', async (label, payload) => {
    for (const endpoint of bodyEndpoints()) {
      const response = await app.inject({
        method: endpoint.method,
        url: endpoint.url,
        headers: { 'content-type': 'application/json', ...auth },
        payload,
      });
      expectHandled(response, `${endpoint.method} ${endpoint.url} ${label}`);
    }
    expect(Object.prototype).not.toHaveProperty('admin');
  });
});

const spellings: Array<[string, string]> = [
  ['empty', ''],
  ['too long', '1'.repeat(5_000)],
  ['not digits', 'abc'],
  ['negative', '-1'],
  ['past bigint', '99999999999999999999'],
  ['19 digits past bigint', '9999999999999999999'],
  ['percent-encoded lone surrogate', '%ED%A0%80'],
  ['invalid percent escape', '%E0%A4%A'],
  ['__proto__', '__proto__'],
  ['dot segments', '..%2F..%2Fetc'],
  ['CRLF', 'a%0D%0ALocation:%20x'],
  ['NUL', 'a%00'],
];

describe('path parameters and queries', () => {
  const routes = (value: string) =>
    [
      ['GET', `/v1/jobs/${value}`],
      ['POST', `/v1/jobs/${value}/cancel`],
      ['POST', `/v1/jobs/${value}/rerun`],
      ['POST', `/v1/jobs/${value}/replay`],
      ['GET', `/v1/flows/${value}`],
      ['GET', `/v1/queues/${value}/stats`],
      ['GET', `/v1/queues/${value}/dlq`],
      ['POST', `/v1/queues/${value}/pause`],
      ['PUT', `/v1/queues/${value}/limits`],
      ['POST', `/v1/queues/${value}/dlq/replay`],
      ['GET', `/v1/schedules/${value}`],
      ['DELETE', `/v1/schedules/${value}`],
      ['POST', `/v1/workers/${value}/heartbeat`],
      ['DELETE', `/v1/workers/${value}`],
      ['GET', `/v1/jobs?queue=${value}&state=ready`],
      ['GET', `/v1/jobs?queue=default&state=${value}`],
      ['GET', `/v1/jobs?queue=default&state=ready&after=${value}&limit=${value}`],
      ['GET', `/v1/queues/default/dlq?after=${value}&limit=${value}`],
      ['GET', `/v1/jobs?queue=default&state=ready&after=${value}`],
      ['GET', `/v1/queues/default/dlq?after=${value}`],
    ] as const;

  it.each(spellings)('handles a value that is %s on every route', async (label, value) => {
    for (const [method, url] of routes(value)) {
      const response = await app.inject({ method, url, headers: auth });
      expectHandled(response, `${method} ${url.slice(0, 80)} (${label})`);
    }
  });
});

describe('headers', () => {
  it.each(FORGED_REQUEST_IDS)('handles a forged request id that is %s', async (_label, requestId) => {
    await expectForgedRequestIdHandled(app, { url: `/v1/jobs/${jobId}` }, requestId);
  });

  it.each([
    ['no token', {}],
    ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['a forged token', { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' }],
    ['a huge token', { authorization: `Bearer ${'a'.repeat(20_000)}` }],
  ])('refuses every state change with %s', async (_label, headers: Record<string, string>) => {
    for (const endpoint of bodyEndpoints()) {
      const response = await app.inject({ method: endpoint.method, url: endpoint.url, headers, payload: {} });
      expectHandled(response, endpoint.url);
      expect(response.statusCode, endpoint.url).toBeGreaterThanOrEqual(400);
    }
  });

  it('refuses a huge Idempotency-Key and a forged one with CRLF without a 500', async () => {
    for (const key of ['k'.repeat(10_000), 'a\r\nx: y']) {
      let response: Injected;
      try {
        response = await app.inject({
          method: 'POST',
          url: '/v1/jobs',
          headers: { ...auth, 'idempotency-key': key },
          payload: { queue: 'default', payload: 1 },
        });
      } catch {
        continue; // the HTTP layer would not send it at all
      }
      expectHandled(response, 'idempotency-key');
    }
  });
});
