import { createLogger, loadConfig, type ServiceApp } from '@sysdesign/platform';
import { encodeContext } from '@sysdesign/quorum';
import { tempDir } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config.js';
import { buildService, kvNodeOf } from '../../src/service.js';

/**
 * The client API under hostile input (issue #9): every endpoint, keys and values huge, empty or
 * malformed Unicode, X-Context garbage, huge or forged, query options unknown or wrong-typed.
 * Each refusal is a problem+json with a stable code; none is a 500.
 */

const MAX_VALUE_BYTES = 1024;
let app: ServiceApp;
let actor: string;

beforeAll(async () => {
  const config = loadConfig(configSchema, {
    LOG_LEVEL: 'silent',
    DATA_DIR: await tempDir('kv-store-'),
    FSYNC: 'interval',
    MAX_VALUE_BYTES: String(MAX_VALUE_BYTES),
    ANTI_ENTROPY_INTERVAL_MS: '0',
  });
  app = await buildService(config, { logger: createLogger('silent') });
  actor = kvNodeOf(app).quorum.replica.actor;
});

afterAll(async () => {
  await app.close();
});

interface Attack {
  what: string;
  method: 'GET' | 'PUT' | 'DELETE' | 'POST' | 'PATCH';
  url: string;
  /** Made when the test runs: forged contexts name this node's actor, known once it started. */
  context?: () => string | string[];
  body?: string | Buffer;
  status: number;
  code: string;
}

const KEY_METHODS = ['GET', 'PUT', 'DELETE'] as const;
const forgedSelf = () => encodeContext([{ actor, counter: Number.MAX_SAFE_INTEGER, timeMs: 0 }]);
const forgedNextRun = () => {
  const [url, run] = actor.split('#') as [string, string];
  return encodeContext([{ actor: `${url}#${Number(run) + 1}`, counter: 1, timeMs: 0 }]);
};
const tooManyEntries = () =>
  encodeContext(
    Array.from({ length: 65 }, (_, index) => ({
      actor: `a${String(index).padStart(3, '0')}`,
      counter: 1,
      timeMs: 0,
    })),
  );

function keyAttacks(): Attack[] {
  const attacks: Attack[] = [];
  for (const method of KEY_METHODS) {
    const body = method === 'PUT' ? 'v' : undefined;
    const at = (what: string, url: string, status: number, code: string): Attack => ({
      what,
      method,
      url,
      status,
      code,
      ...(body === undefined ? {} : { body }),
    });
    attacks.push(
      at('a key of 1025 bytes', `/v1/kv/${'k'.repeat(1025)}`, 400, 'ERR_VALIDATION'),
      at('a key of 100 KB', `/v1/kv/${'k'.repeat(100_000)}`, 400, 'ERR_VALIDATION'),
      at('an empty key', '/v1/kv/', 400, 'ERR_VALIDATION'),
      at('a truncated escape', '/v1/kv/%E2%82', 400, 'ERR_MALFORMED_URL'),
      at('a lone surrogate', '/v1/kv/%ED%A0%80', 400, 'ERR_MALFORMED_URL'),
      at('an overlong encoding', '/v1/kv/%C0%80', 400, 'ERR_MALFORMED_URL'),
      at('an unknown option', '/v1/kv/q?W=1', 400, 'ERR_VALIDATION'),
      at('an option as an array', '/v1/kv/q?w[]=1', 400, 'ERR_VALIDATION'),
      at('an option twice', '/v1/kv/q?r=1&r=1', 400, 'ERR_VALIDATION'),
      at('a negative option', '/v1/kv/q?r=-1', 400, 'ERR_VALIDATION'),
      at('a huge option', `/v1/kv/q?w=${'9'.repeat(400)}`, 400, 'ERR_VALIDATION'),
      at('an unknown consistency', '/v1/kv/q?consistency=__proto__', 400, 'ERR_VALIDATION'),
    );
  }
  return attacks;
}

function contextAttacks(): Attack[] {
  const attacks: Attack[] = [];
  for (const method of ['PUT', 'DELETE'] as const) {
    const body = method === 'PUT' ? { body: 'v' } : {};
    const at = (what: string, context: () => string | string[], status: number, code: string): Attack => ({
      what,
      method,
      url: '/v1/kv/ctx',
      context,
      status,
      code,
      ...body,
    });
    attacks.push(
      at('a garbage context', () => '%%%not base64%%%', 400, 'ERR_VALIDATION'),
      at('a huge context', () => 'A'.repeat(64_000), 400, 'ERR_VALIDATION'),
      at('a context sent twice', () => ['AQA', 'AQA'], 400, 'ERR_VALIDATION'),
      at('a context of 65 entries', tooManyEntries, 400, 'ERR_VALIDATION'),
      at("a context claiming this node's counter 2^53-1", forgedSelf, 400, 'KV_ERR_INVALID_CONTEXT'),
      at('a context naming the next run of this node', forgedNextRun, 400, 'KV_ERR_INVALID_CONTEXT'),
    );
  }
  return attacks;
}

function otherAttacks(): Attack[] {
  return [
    {
      what: 'a value over MAX_VALUE_BYTES',
      method: 'PUT',
      url: '/v1/kv/big',
      body: Buffer.alloc(MAX_VALUE_BYTES + 1),
      status: 413,
      code: 'KV_ERR_VALUE_TOO_LARGE',
    },
    {
      what: 'an unknown method',
      method: 'POST',
      url: '/v1/kv/k',
      body: 'v',
      status: 404,
      code: 'ERR_NOT_FOUND',
    },
    { what: 'PATCH', method: 'PATCH', url: '/v1/kv/k', body: 'v', status: 404, code: 'ERR_NOT_FOUND' },
    {
      what: 'an unknown path',
      method: 'GET',
      url: `/v1/${'x'.repeat(5000)}`,
      status: 404,
      code: 'ERR_NOT_FOUND',
    },
  ];
}

describe('the client API under hostile input', () => {
  it.each([...keyAttacks(), ...contextAttacks(), ...otherAttacks()])(
    'answers $method with $what by $status $code',
    async (attack) => {
      const response = await app.inject({
        method: attack.method,
        url: attack.url,
        ...(attack.context === undefined ? {} : { headers: { 'x-context': attack.context() } }),
        ...(attack.body === undefined ? {} : { payload: attack.body }),
      });
      expect(response.statusCode).toBe(attack.status);
      expect(String(response.headers['content-type'])).toContain('application/problem+json');
      expect(response.json()).toMatchObject({ status: attack.status, code: attack.code });
    },
  );

  it('stores empty values and keys of odd but well-formed Unicode, and leaves no trace of the refused writes', async () => {
    for (const key of ['\u0000', '\u{1F600}'.repeat(256), '\u202E/../..', ' ']) {
      const url = `/v1/kv/${encodeURIComponent(key)}`;
      expect((await app.inject({ method: 'PUT', url, payload: '' })).statusCode, key).toBe(204);
      expect((await app.inject({ method: 'GET', url })).statusCode, key).toBe(200);
    }
    for (const key of ['ctx', 'big', 'q']) {
      expect((await app.inject({ method: 'GET', url: `/v1/kv/${key}` })).statusCode, key).toBe(404);
    }
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('serves the cluster, health and metrics endpoints whatever the query', async () => {
    for (const url of ['/v1/cluster?x=%ZZ', '/healthz?__proto__=1', '/readyz?r=9', '/metrics?name[]=x']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBeLessThan(500);
    }
  });
});
