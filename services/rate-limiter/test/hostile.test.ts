import type { ServiceApp } from '@sysdesign/platform';
import {
  expectForgedRequestIdHandled,
  expectProblem as expectProblemOf,
  FORGED_REQUEST_IDS,
  type HostileRequest,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFromEnv, rulesDir } from './helpers.js';

/**
 * Hostile input, endpoint by endpoint: every field missing, wrong-typed, huge or malformed, forged
 * headers, lying content types, prototype keys and deep nesting. The claim is the same for each:
 * never a 500, always problem+json with a stable code, and the status a client can act on.
 */

const RULES = `
domain: hostile
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: 5 }
`;

const GOOD = { domain: 'hostile', descriptors: [{ key: 'user', value: 'u1' }] };
const json = (body: unknown): HostileRequest => ({
  method: 'POST',
  url: '/v1/check',
  headers: { 'content-type': 'application/json' },
  payload: typeof body === 'string' ? body : JSON.stringify(body),
});
const withDescriptor = (descriptor: Record<string, unknown>) => ({
  domain: 'hostile',
  descriptors: [descriptor],
});
const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

let rules: Awaited<ReturnType<typeof rulesDir>>;
let app: ServiceApp;

beforeAll(async () => {
  rules = await rulesDir(RULES);
  app = await buildFromEnv({ RULES_FILE: rules.file, BODY_LIMIT_BYTES: '65536' });
});
afterAll(async () => {
  await app.close();
  await rules.remove();
});

function expectProblem(options: HostileRequest | string, status: number, code: string, field?: string) {
  return expectProblemOf(app, options, status, code, field);
}

describe('POST /v1/check', () => {
  it.each([
    ['no body', { method: 'POST', url: '/v1/check' } as HostileRequest, 'ERR_VALIDATION'],
    ['an empty JSON body', json(''), 'ERR_MALFORMED_BODY'],
    ['broken JSON', json('{"domain": "hostile",'), 'ERR_MALFORMED_BODY'],
    ['a JSON array', json([GOOD]), 'ERR_VALIDATION'],
    ['a JSON string', json('"hostile"'), 'ERR_VALIDATION'],
    ['JSON null', json('null'), 'ERR_VALIDATION'],
  ])('refuses %s with a 400', async (_name, options, code) => {
    await expectProblem(options, 400, code);
  });

  it.each([
    ['domain missing', { descriptors: GOOD.descriptors }, 'body.domain'],
    ['descriptors missing', { domain: 'hostile' }, 'body.descriptors'],
    ['domain a number', { ...GOOD, domain: 7 }, 'body.domain'],
    ['domain an object', { ...GOOD, domain: { $ne: '' } }, 'body.domain'],
    ['domain empty', { ...GOOD, domain: '' }, 'body.domain'],
    ['domain huge', { ...GOOD, domain: 'd'.repeat(10_000) }, 'body.domain'],
    ['descriptors empty', { ...GOOD, descriptors: [] }, 'body.descriptors'],
    ['descriptors an object', { ...GOOD, descriptors: { key: 'user', value: 'u1' } }, 'body.descriptors'],
    [
      'descriptors too many',
      { ...GOOD, descriptors: Array(100).fill({ key: 'user', value: 'u' }) },
      'descriptors',
    ],
    ['a key missing', withDescriptor({ value: 'u1' }), 'body.descriptors.0.key'],
    ['a value missing', withDescriptor({ key: 'user' }), 'body.descriptors.0.value'],
    ['a value a number', withDescriptor({ key: 'user', value: 42 }), 'body.descriptors.0.value'],
    ['a value null', withDescriptor({ key: 'user', value: null }), 'body.descriptors.0.value'],
    ['a value huge', withDescriptor({ key: 'user', value: 'v'.repeat(5_000) }), 'body.descriptors.0.value'],
    ['hits a string', { ...GOOD, hits: '1' }, 'body.hits'],
    ['hits negative', { ...GOOD, hits: -1 }, 'body.hits'],
    ['hits fractional', { ...GOOD, hits: 0.5 }, 'body.hits'],
    ['hits huge', { ...GOOD, hits: 1e308 }, 'body.hits'],
  ])('refuses %s with a 400 naming the field', async (_name, body, field) => {
    await expectProblem(json(body), 400, 'ERR_VALIDATION', field);
  });

  it.each([
    ['domain', { ...GOOD, domain: 'hostile\ud800' }, 'body.domain'],
    ['a key', withDescriptor({ key: 'user\udc00', value: 'u1' }), 'body.descriptors.0.key'],
    ['a value', withDescriptor({ key: 'user', value: '\ud800' }), 'body.descriptors.0.value'],
  ])(
    'refuses a lone surrogate in %s with a 400 naming the field (it was a 500)',
    async (_name, body, field) => {
      // JSON.stringify writes a lone surrogate as the escape \ud800; JSON.parse gives it back as one.
      await expectProblem(json(body), 400, 'ERR_VALIDATION', field);
    },
  );

  it('accepts well-formed astral characters (a surrogate pair is not a lone surrogate)', async () => {
    const response = await app.inject(json(withDescriptor({ key: 'user', value: '😀 ünï' })));
    expect(response.statusCode).toBe(200);
  });

  it('refuses an unknown domain with its own code', async () => {
    await expectProblem(json({ ...GOOD, domain: 'nope' }), 400, 'RL_ERR_UNKNOWN_DOMAIN', 'nope');
  });

  it.each([
    [
      '__proto__',
      '{"domain":"hostile","descriptors":[{"key":"user","value":"p1"}],"__proto__":{"hits":1000000}}',
    ],
    [
      'constructor.prototype',
      '{"domain":"hostile","descriptors":[{"key":"user","value":"p2"}],"constructor":{"prototype":{"x":1}}}',
    ],
    [
      '__proto__ in a descriptor',
      '{"domain":"hostile","descriptors":[{"key":"user","value":"p3","__proto__":{"key":"x"}}]}',
    ],
  ])('never lets %s reach the object model', async (_name, payload) => {
    // Fastify's JSON parser refuses prototype keys; either way no 500 and nothing polluted.
    await expectProblem(json(payload), 400, 'ERR_MALFORMED_BODY');
    expect(({} as Record<string, unknown>).hits).toBeUndefined();
  });

  it('refuses deeply nested JSON without running out of stack', async () => {
    await expectProblem(json(`{"domain":"hostile","descriptors":${nested(10_000)}}`), 400, 'ERR_VALIDATION');
  });

  it('refuses a body over BODY_LIMIT_BYTES with a 413', async () => {
    await expectProblem(json({ ...GOOD, padding: 'x'.repeat(70_000) }), 413, 'ERR_BODY_TOO_LARGE');
  });

  it.each([
    ['text/plain', 400, 'ERR_VALIDATION'],
    ['application/x-www-form-urlencoded', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['application/octet-stream', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['multipart/form-data; boundary=x', 415, 'ERR_UNSUPPORTED_MEDIA_TYPE'],
  ])('refuses a JSON body sent as %s', async (contentType, status, code) => {
    // A lying content type is never parsed as JSON: text stays a string (not an object), the rest are refused.
    await expectProblem({ ...json(GOOD), headers: { 'content-type': contentType } }, status, code);
  });

  it('refuses a non-JSON body sent as application/json', async () => {
    await expectProblem(json('domain=hostile&descriptors=user'), 400, 'ERR_MALFORMED_BODY');
  });

  it.each(FORGED_REQUEST_IDS)(
    'answers a forged x-request-id (%s) without echoing it into headers',
    async (_name, requestId) => {
      await expectForgedRequestIdHandled(app, json(GOOD), requestId);
    },
  );
});

describe('the other endpoints', () => {
  it.each([
    ['GET /v1/check', { method: 'GET', url: '/v1/check' }, 404, 'ERR_NOT_FOUND'],
    ['DELETE /v1/rules', { method: 'DELETE', url: '/v1/rules' }, 404, 'ERR_NOT_FOUND'],
    ['an unknown path', { method: 'GET', url: '/v1/nothing-here' }, 404, 'ERR_NOT_FOUND'],
    ['a path that is not UTF-8', { method: 'GET', url: '/v1/%ff%fe' }, 400, 'ERR_MALFORMED_URL'],
    ['a broken percent escape', { method: 'GET', url: '/v1/rules/%E0%A4%A' }, 400, 'ERR_MALFORMED_URL'],
  ] as const)('answers %s with a problem', async (_name, options, status, code) => {
    await expectProblem(options as HostileRequest, status, code);
  });

  it.each(['/v1/rules', '/v1/rules?__proto__[x]=1&domain=%ud800', '/healthz', '/readyz', '/metrics'])(
    'serves GET %s whatever the query',
    async (url) => {
      const response = await app.inject({ url });
      expect(response.statusCode).toBe(200);
    },
  );
});
