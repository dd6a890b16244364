import { EmbeddedPostgres, type ServiceApp, TokenAuthority } from '@sysdesign/platform';
import { freshSchemaName, tempDirSync } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SCOPE } from '../src/routes/admin.js';
import { buildFromEnv, createLink, TEST_AUTH_SECRET } from './helpers.js';

/**
 * Hostile input on every endpoint: each field missing, of the wrong type, huge, malformed
 * Unicode, `__proto__`, forged headers. Whatever arrives, the answer is never a 500, and every
 * refusal is problem+json with a stable code (`URLSHORT_ERR_*` or the platform's `ERR_*`).
 */

/** Ours, the platform's (refusals made before routing included), or the limiter's. */
const STABLE_CODE = /^(URLSHORT_ERR_[A-Z_]+|ERR_[A-Z_]+|RATE_LIMITED)$/;
const LONE_SURROGATE = '\ud800';
const HUGE = 'x'.repeat(200_000);

const authority = new TokenAuthority({ secret: TEST_AUTH_SECRET });
let embedded: EmbeddedPostgres;
let app: ServiceApp;
let code: string;
let operator: Record<string, string>;

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  app = await buildFromEnv(
    { DATA_DIR: tempDirSync('url-shortener-hostile-'), QR_RATE_LIMIT: '100000' },
    { embedded, schema: freshSchemaName('hostile') },
  );
  code = (await createLink(app, { url: 'https://example.com/hostile' })).link.code;
  operator = {
    authorization: `Bearer ${await authority.issue('ops', { ttlSeconds: 600, scopes: [ADMIN_SCOPE] })}`,
  };
});
afterAll(async () => {
  await app.close();
  await embedded.close();
});

type Injected = Awaited<ReturnType<ServiceApp['inject']>>;

/** Not a 500, and a refusal is a problem with a stable code. */
function expectHandled(response: Injected, label: string): void {
  expect(response.statusCode, `${label}: ${response.body.slice(0, 200)}`).toBeLessThan(500);
  if (response.statusCode < 400) return;
  expect(response.headers['content-type'], label).toMatch(/^application\/problem\+json/);
  const problem = response.json();
  expect(problem.code, label).toMatch(STABLE_CODE);
  expect(problem.status, label).toBe(response.statusCode);
}

/** Raw JSON bodies: what a JSON encoder would never produce is the point. */
const hostileBodies: Array<[string, string]> = [
  ['no body fields', '{}'],
  ['null', 'null'],
  ['an array', '[]'],
  ['a number', '42'],
  ['a string', '"https://example.com"'],
  ['malformed JSON', '{"url": '],
  ['a lone surrogate escape', '{"url": "https://example.com/\\ud800", "reason": "\\ud800"}'],
  [
    'raw invalid UTF-8',
    Buffer.from([0x7b, 0x22, 0x75, 0x72, 0x6c, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('latin1'),
  ],
  ['__proto__', '{"__proto__": {"admin": true}, "url": "https://example.com/p"}'],
  [
    'constructor.prototype',
    '{"constructor": {"prototype": {"admin": true}}, "url": "https://example.com/c"}',
  ],
  ['deep nesting', `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`],
  ['a huge string', JSON.stringify({ url: `https://example.com/${HUGE}`, alias: HUGE, reason: HUGE })],
  ['wrong types', '{"url": 1, "alias": [], "expiresAt": {}, "maxClicks": "7", "reason": 3}'],
  ['nulls', '{"url": null, "alias": null, "expiresAt": null, "maxClicks": null, "reason": null}'],
  ['unknown fields', '{"url": "https://example.com/u", "owner": "alice", "admin": true}'],
  ['huge numbers', '{"url": "https://example.com/n", "maxClicks": 1e308}'],
  ['NaN-ish', '{"url": "https://example.com/n", "maxClicks": -0}'],
  ['a lone surrogate in the alias', `{"url": "https://example.com/s", "alias": "ab${LONE_SURROGATE}"}`],
];

const bodyEndpoints: Array<{ method: 'POST'; url: () => string; headers: () => Record<string, string> }> = [
  { method: 'POST', url: () => '/v1/urls', headers: () => ({}) },
  { method: 'POST', url: () => `/v1/admin/links/${code}/disable`, headers: () => operator },
];

describe.each(bodyEndpoints)('$method body endpoint', (endpoint) => {
  it.each(hostileBodies)('handles %s', async (label, payload) => {
    const response = await app.inject({
      method: endpoint.method,
      url: endpoint.url(),
      headers: { 'content-type': 'application/json', ...endpoint.headers() },
      payload,
    });
    expectHandled(response, label);
    expect(Object.prototype).not.toHaveProperty('admin');
  });

  it.each([
    ['text/plain', 'url=https://example.com'],
    ['application/x-www-form-urlencoded', 'url=https://example.com'],
    ['application/json; charset=utf-16', '{}'],
  ])('refuses content type %s', async (contentType, payload) => {
    const response = await app.inject({
      method: endpoint.method,
      url: endpoint.url(),
      headers: { 'content-type': contentType, ...endpoint.headers() },
      payload,
    });
    expectHandled(response, contentType);
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
  });
});

const codeSpellings: Array<[string, string]> = [
  ['empty', ''],
  ['too long', 'a'.repeat(10_000)],
  ['percent-encoded lone surrogate', '%ED%A0%80'],
  ['invalid percent escape', '%E0%A4%A'],
  ['__proto__', '__proto__'],
  ['constructor', 'constructor'],
  ['dot segments', '..%2F..%2Fetc%2Fpasswd'],
  ['CRLF', 'abc%0D%0ALocation:%20https://evil.example'],
  ['NUL', 'abc%00'],
  ['unicode', '%E2%80%AEcode'],
];

describe('path parameters', () => {
  const paths = (value: string) =>
    [
      ['GET', `/${value}`],
      ['GET', `/v1/urls/${value}`],
      ['GET', `/v1/urls/${value}/qr`],
      ['DELETE', `/v1/urls/${value}`],
      ['POST', `/v1/admin/links/${value}/disable`],
      ['POST', `/v1/admin/links/${value}/enable`],
    ] as const;

  it.each(codeSpellings)('handles a code that is %s on every route', async (label, value) => {
    for (const [method, url] of paths(value)) {
      const response = await app.inject({
        method,
        url,
        headers: method === 'GET' ? {} : operator,
        ...(url.endsWith('/disable') ? { payload: { reason: 'hostile' } } : {}),
      });
      expectHandled(response, `${label} ${method} ${url.slice(0, 60)}`);
      expect(response.headers.location, label).toBeUndefined();
    }
  });
});

describe('query strings', () => {
  it.each([
    ['format=gif'],
    ['format=svg&format=png'],
    ['size=9999'],
    ['size[]=l'],
    ['size=%ED%A0%80'],
    ['__proto__[size]=l'],
    ['constructor[prototype][size]=l'],
    [`size=${'l'.repeat(100_000)}`],
    ['format=%00'],
  ])('handles QR query %s', async (query) => {
    const response = await app.inject({ url: `/v1/urls/${code}/qr?${query.slice(0, 120_000)}` });
    expectHandled(response, query.slice(0, 60));
  });
});

describe('forged and hostile headers', () => {
  const routes = () => [
    { method: 'GET' as const, url: `/${code}` },
    { method: 'GET' as const, url: `/v1/urls/${code}` },
    { method: 'GET' as const, url: `/v1/urls/${code}/qr` },
    { method: 'POST' as const, url: '/v1/urls', payload: { url: 'https://example.com/headers' } },
    { method: 'DELETE' as const, url: `/v1/urls/${code}` },
    { method: 'POST' as const, url: `/v1/admin/links/${code}/enable` },
  ];

  it.each([
    ['X-Forwarded-For with TRUST_PROXY off', { 'x-forwarded-for': '127.0.0.1, ::1, not-an-ip' }],
    ['a huge X-Forwarded-For', { 'x-forwarded-for': Array(2_000).fill('10.0.0.1').join(', ') }],
    ['a huge Referer', { referer: `https://example.com/${'r'.repeat(7_000)}` }],
    ['a Referer that is not a URL', { referer: 'javascript:alert(1)' }],
    ['a Referer with a lone surrogate', { referer: `https://ex${LONE_SURROGATE}ample.com/` }],
    ['a huge User-Agent', { 'user-agent': 'Mozilla/5.0 '.repeat(600) }],
    ['a malformed Authorization', { authorization: 'Bearer a.b' }],
    ['a non-bearer Authorization', { authorization: 'Basic YWRtaW46YWRtaW4=' }],
    ['a huge Authorization', { authorization: `Bearer ${'a'.repeat(9_000)}` }],
    [
      'an alg=none token',
      { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJvcHMiLCJzY29wZSI6InVybHNob3J0OmFkbWluIn0.' },
    ],
    ['a forged request id', { 'x-request-id': `id\u0000${'x'.repeat(5_000)}` }],
    ['a forged Host', { host: 'evil.example' }],
  ])('handles %s on every route', async (label, headers) => {
    for (const route of routes()) {
      const response = await app.inject({ ...route, headers: headers as Record<string, string> });
      expectHandled(response, `${label} ${route.method} ${route.url}`);
    }
  });

  it('refuses CRLF in a header rather than letting it split the response', async () => {
    // The HTTP parser (or the client) refuses it before any route runs; nothing is echoed.
    const attempt = app.inject({
      url: `/${code}`,
      headers: { referer: 'https://a.example/\r\nSet-Cookie: x=1' },
    });
    const outcome = await attempt.then(
      (response) => response,
      (error: Error) => error,
    );
    if (outcome instanceof Error) expect(outcome.message).toMatch(/header|character/i);
    else {
      expectHandled(outcome, 'CRLF referer');
      expect(outcome.headers['set-cookie']).toBeUndefined();
    }
  });

  it('never lets a forged X-Forwarded-For escape the creation rate limit when TRUST_PROXY is off', async () => {
    const limited = await buildFromEnv(
      { DATA_DIR: tempDirSync('url-shortener-hostile-rl-'), CREATE_RATE_LIMIT: '2' },
      { embedded, schema: freshSchemaName('hostile_rl') },
    );
    try {
      const statuses = [];
      for (let index = 0; index < 3; index++) {
        const response = await limited.inject({
          method: 'POST',
          url: '/v1/urls',
          headers: { 'x-forwarded-for': `198.51.100.${index}` },
          payload: { url: `https://example.com/rl/${index}` },
        });
        statuses.push(response.statusCode);
      }
      expect(statuses).toEqual([201, 201, 429]);
    } finally {
      await limited.close();
    }
  });
});
