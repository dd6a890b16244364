import { EmbeddedPostgres, type ServiceApp } from '@sysdesign/platform';
import {
  expectForgedRequestIdHandled,
  expectProblem as expectProblemOf,
  FORGED_REQUEST_IDS,
  freshSchemaName,
  type HostileRequest,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFromEnv } from './helpers.js';

/**
 * Hostile input, endpoint by endpoint: every parameter missing, wrong-typed, huge or malformed,
 * forged headers, bodies where none belong. The claim is the same for each: never a 500, always
 * problem+json with a stable code, and a 400 names the field.
 */

let embedded: EmbeddedPostgres;
let app: ServiceApp;

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  app = await buildFromEnv({}, { embedded, schema: freshSchemaName('hostile') });
});
afterAll(async () => {
  await app.close();
  await embedded.close();
});

function expectProblem(options: HostileRequest | string, status: number, code: string, field?: string) {
  return expectProblemOf(app, options, status, code, field);
}

describe('GET /v1/ids', () => {
  it.each([
    ['count=1e4', 'scientific notation'],
    ['count=0x10', 'hexadecimal'],
    ['count=%205', 'a leading space'],
    ['count=5%20', 'a trailing space'],
    ['count=%2B5', 'a plus sign'],
    ['count=-1', 'a minus sign'],
    ['count=1.0', 'a decimal point'],
    ['count=', 'nothing'],
    ['count=Infinity', 'Infinity'],
    ['count=%EF%BC%95', 'a full-width digit'],
    ['count=0', 'zero'],
    ['count=10001', 'one more than the maximum'],
    [`count=${'9'.repeat(400)}`, 'four hundred digits'],
    ['count=1&count=2', 'the parameter twice'],
    ['count=%ED%A0%80', 'an encoded lone surrogate'],
  ])('refuses %s (%s) with a 400 naming query.count', async (query) => {
    // Only decimal digits in 1..10000: a coercing parse accepted the first three.
    await expectProblem(`/v1/ids?${query}`, 400, 'ERR_VALIDATION', 'query.count');
  });

  it.each([
    ['strategy=', 'empty'],
    ['strategy=SNOWFLAKE', 'another case'],
    ['strategy=__proto__', '__proto__'],
    ['strategy=constructor', 'constructor'],
    ['strategy=toString', 'toString'],
    [`strategy=${'x'.repeat(5_000)}`, 'huge'],
    ['strategy=ticket&strategy=ulid', 'twice'],
    ['strategy=%F0%9F%98%80', 'an emoji'],
  ])('refuses strategy %s (%s) with a 400 naming query.strategy', async (query) => {
    // An object lookup by a client's string must never reach Object.prototype.
    await expectProblem(`/v1/ids?${query}`, 400, 'ERR_VALIDATION', 'query.strategy');
  });

  it('ignores unknown and prototype-shaped query parameters', async () => {
    const response = await app.inject(
      '/v1/ids?__proto__[count]=999&constructor[prototype][x]=1&count[]=500&extra=1',
    );
    expect(response.statusCode).toBe(200);
    expect(response.json().ids).toHaveLength(1);
    expect(({} as Record<string, unknown>).count).toBeUndefined();
  });

  it('ignores a body, whatever its content type claims', async () => {
    for (const contentType of ['application/json', 'text/plain', 'application/octet-stream']) {
      const response = await app.inject({
        method: 'GET',
        url: '/v1/ids?count=2',
        headers: { 'content-type': contentType },
        payload: '{"count": 10000',
      });
      expect(response.statusCode).toBeLessThan(500);
    }
  });

  it.each(FORGED_REQUEST_IDS)(
    'answers a forged x-request-id (%s) without echoing it into headers',
    async (_name, requestId) => {
      await expectForgedRequestIdHandled(app, { url: '/v1/ids' }, requestId);
    },
  );
});

describe('GET /v1/ids/{id}/decode', () => {
  it.each([
    ['-1', 'negative'],
    ['01', 'a leading zero'],
    ['1e3', 'scientific notation'],
    ['0x1f', 'hexadecimal'],
    ['9223372036854775808', '2^63'],
    ['%20123', 'a leading space'],
    ['abc', 'letters'],
    ['__proto__', '__proto__'],
  ])('refuses id %s (%s) with a 400 naming params.id', async (id) => {
    await expectProblem(`/v1/ids/${id}/decode`, 400, 'ERR_VALIDATION', 'params.id');
  });

  it('refuses an id longer than any route parameter with a 414, before validation', async () => {
    await expectProblem(`/v1/ids/${'9'.repeat(400)}/decode`, 414, 'ERR_PATH_PARAMETER_TOO_LONG');
  });

  it('refuses an encoded lone surrogate in the path as a malformed URL', async () => {
    await expectProblem('/v1/ids/%ED%A0%80/decode', 400, 'ERR_MALFORMED_URL');
  });

  it('decodes the largest id, 2^63 - 1, without a 500', async () => {
    const response = await app.inject('/v1/ids/9223372036854775807/decode');
    expect(response.statusCode).toBe(200);
  });
});

describe('the other endpoints', () => {
  it.each([
    ['POST /v1/ids', { method: 'POST', url: '/v1/ids', payload: { count: 1 } }, 404, 'ERR_NOT_FOUND'],
    ['an unknown path', { method: 'GET', url: '/v1/nothing-here' }, 404, 'ERR_NOT_FOUND'],
    ['a path that is not UTF-8', { method: 'GET', url: '/v1/ids/%ff%fe/decode' }, 400, 'ERR_MALFORMED_URL'],
    ['a broken percent escape', { method: 'GET', url: '/v1/ids/%E0%A4%A/decode' }, 400, 'ERR_MALFORMED_URL'],
  ] as const)('answers %s with a problem', async (_name, options, status, code) => {
    await expectProblem(options as HostileRequest, status, code);
  });

  it.each(['/healthz', '/readyz', '/metrics', '/healthz?__proto__[x]=1'])('serves GET %s', async (url) => {
    expect((await app.inject(url)).statusCode).toBe(200);
  });
});
