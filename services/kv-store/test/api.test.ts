import { createLogger, loadConfig, type ServiceApp } from '@sysdesign/platform';
import { encodeContext } from '@sysdesign/quorum';
import { tempDir } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';

/**
 * The HTTP contract on one node (N = 1, no peers), through app.inject: every endpoint, every
 * status, and bad input on every field a client sends (key, value, X-Context, w, r, consistency).
 */

const MAX_VALUE_BYTES = 4096;
let app: ServiceApp;
let dataDir: string;

beforeAll(async () => {
  dataDir = await tempDir('kv-store-');
  const config = loadConfig(configSchema, {
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    FSYNC: 'interval',
    MAX_VALUE_BYTES: String(MAX_VALUE_BYTES),
    ANTI_ENTROPY_INTERVAL_MS: '0',
  });
  app = await buildService(config, { logger: createLogger('silent') });
});

afterAll(async () => {
  await app.close();
});

const url = (key: string, query = '') => `/v1/kv/${encodeURIComponent(key)}${query}`;

async function put(key: string, body: string | Buffer, headers: Record<string, string> = {}, query = '') {
  return app.inject({ method: 'PUT', url: url(key, query), payload: body, headers });
}

function expectProblem(
  response: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
  status: number,
) {
  expect(response.statusCode).toBe(status);
  expect(String(response.headers['content-type'])).toContain('application/problem+json');
  return response.json() as { code: string; detail?: string; errors?: Array<{ in: string; field: string }> };
}

describe('reads and writes', () => {
  it('stores any bytes under any content type and reads back exactly them with a context', async () => {
    // Proves the body is taken raw: JSON, text and all 256 byte values come back byte for byte.
    const binary = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
    for (const [key, body, type] of [
      ['json', '{"not":"parsed"', 'application/json'],
      ['text', 'héllo', 'text/plain; charset=utf-8'],
      ['binary', binary, 'application/octet-stream'],
      ['empty', '', 'text/plain'],
    ] as const) {
      const written = await put(key, body, { 'content-type': type });
      expect(written.statusCode).toBe(204);
      expect(written.headers['x-context']).toMatch(/^[A-Za-z0-9_-]+$/);
      const read = await app.inject({ method: 'GET', url: url(key) });
      expect(read.statusCode).toBe(200);
      expect(read.headers['content-type']).toBe('application/octet-stream');
      expect(read.rawPayload.equals(Buffer.from(body))).toBe(true);
      expect(read.headers['x-context']).toBe(written.headers['x-context']);
    }
  });

  it('replaces a value when the write carries the context of the read, and keeps both when it does not', async () => {
    // Proves the versioning rule: a write supersedes what its context covers; a blind write supersedes nothing.
    const first = await put('cart', 'milk');
    const second = await put('cart', 'milk,eggs', { 'x-context': String(first.headers['x-context']) });
    expect(second.statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: url('cart') })).body).toBe('milk,eggs');

    await put('cart', 'bread');
    const conflict = await app.inject({ method: 'GET', url: url('cart') });
    expect(conflict.statusCode).toBe(300);
    const body = conflict.json() as {
      key: string;
      context: string;
      siblings: Array<{ value: string; version: string }>;
    };
    expect(body.key).toBe('cart');
    expect(body.context).toBe(conflict.headers['x-context']);
    expect(body.siblings.map((sibling) => Buffer.from(sibling.value, 'base64').toString()).sort()).toEqual([
      'bread',
      'milk,eggs',
    ]);

    const resolved = await put('cart', 'bread,milk,eggs', { 'x-context': body.context });
    expect(resolved.statusCode).toBe(204);
    const after = await app.inject({ method: 'GET', url: url('cart') });
    expect(after.statusCode).toBe(200);
    expect(after.body).toBe('bread,milk,eggs');
  });

  it('deletes with or without a context, answers 404 after, and lets a write with the 404 context replace the tombstone', async () => {
    // Proves deletes are tombstones a later write can supersede, and that 404 still hands out their context.
    const written = await put('gone', 'soon');
    expect(
      (
        await app.inject({
          method: 'DELETE',
          url: url('gone'),
          headers: { 'x-context': String(written.headers['x-context']) },
        })
      ).statusCode,
    ).toBe(204);
    const missing = await app.inject({ method: 'GET', url: url('gone') });
    expect(expectProblem(missing, 404).code).toBe('KV_ERR_KEY_NOT_FOUND');
    expect(missing.headers['x-context']).toBeTruthy();

    await put('gone', 'back', { 'x-context': String(missing.headers['x-context']) });
    expect((await app.inject({ method: 'GET', url: url('gone') })).body).toBe('back');
    expect((await app.inject({ method: 'DELETE', url: url('gone') })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: url('gone') })).statusCode).toBe(404);

    const never = await app.inject({ method: 'GET', url: url('never-written') });
    expect(expectProblem(never, 404).code).toBe('KV_ERR_KEY_NOT_FOUND');
    expect(never.headers['x-context']).toBeUndefined();
    expect((await app.inject({ method: 'DELETE', url: url('never-written') })).statusCode).toBe(204);
  });

  it('accepts keys with slashes, spaces, NUL, emoji and right-to-left marks, and keeps them distinct', async () => {
    // Proves keys are URL-decoded Unicode text, any of it, stored under exactly that text.
    const keys = [
      'a/b/c',
      'with space',
      'nul\u0000byte',
      '😀',
      '\u202Eevil',
      'ǅ',
      '%41',
      'a..',
      'x'.repeat(1024),
    ];
    for (const [index, key] of keys.entries())
      expect((await put(key, `v${index}`)).statusCode, key).toBe(204);
    for (const [index, key] of keys.entries()) {
      const read = await app.inject({ method: 'GET', url: url(key) });
      expect(read.statusCode, key).toBe(200);
      expect(read.body).toBe(`v${index}`);
    }
    // An unencoded slash is part of the key too.
    expect((await app.inject({ method: 'GET', url: '/v1/kv/a/b/c' })).body).toBe('v0');
  });
});

describe('bad input, field by field', () => {
  it('rejects keys that are empty, longer than 1 KiB of UTF-8, or not valid percent-encoded UTF-8', async () => {
    // Proves the key limit counts UTF-8 bytes (342 euro signs = 1026 bytes) and every failure is a 400 naming the key.
    for (const key of ['x'.repeat(1025), '€'.repeat(342)]) {
      const response = await put(key, 'v');
      const problem = expectProblem(response, 400);
      expect(problem.errors).toEqual([expect.objectContaining({ in: 'params', field: 'key' })]);
      expect(problem.detail).toContain('1024 bytes');
    }
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const problem = expectProblem(await app.inject({ method, url: '/v1/kv/' }), 400);
      expect(problem.errors?.[0]?.field).toBe('key');
    }
    // Malformed escapes, a lone surrogate and an overlong encoding never reach a handler.
    for (const raw of ['/v1/kv/%ZZ', '/v1/kv/%ED%A0%80', '/v1/kv/%C0%AF', '/v1/kv/%']) {
      expect(expectProblem(await app.inject({ method: 'GET', url: raw }), 400).code, raw).toBe(
        'ERR_MALFORMED_URL',
      );
    }
  });

  it('answers 413 for a value over MAX_VALUE_BYTES, declared or streamed, and stores nothing', async () => {
    // Proves the value limit holds with and without a Content-Length, and exactly at the limit.
    expect((await put('big', Buffer.alloc(MAX_VALUE_BYTES, 1))).statusCode).toBe(204);
    const declared = await put('too-big', Buffer.alloc(MAX_VALUE_BYTES + 1, 1));
    expect(expectProblem(declared, 413).code).toBe('KV_ERR_VALUE_TOO_LARGE');
    const { Readable } = await import('node:stream');
    const streamed = await app.inject({
      method: 'PUT',
      url: url('too-big'),
      payload: Readable.from([Buffer.alloc(MAX_VALUE_BYTES), Buffer.alloc(10)]),
      headers: { 'transfer-encoding': 'chunked' },
    });
    expect(expectProblem(streamed, 413).code).toBe('KV_ERR_VALUE_TOO_LARGE');
    expect((await app.inject({ method: 'GET', url: url('too-big') })).statusCode).toBe(404);
  });

  it('rejects an X-Context that is not one of ours with a 400 naming the header', async () => {
    // Proves hostile contexts (bad alphabet, truncated, wrong format, oversized, forged varints) never reach the coordinator.
    const valid = encodeContext([{ actor: 'http://127.0.0.1:1#1', counter: 3, timeMs: 5 }]);
    for (const context of [
      'not base64!',
      'AAAA',
      valid.slice(0, -3),
      'A'.repeat(9000),
      Buffer.from([1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).toString('base64url'),
    ]) {
      for (const method of ['PUT', 'DELETE'] as const) {
        const response = await app.inject({
          method,
          url: url('ctx'),
          payload: 'v',
          headers: { 'x-context': context },
        });
        const problem = expectProblem(response, 400);
        expect(problem.errors).toEqual([expect.objectContaining({ in: 'headers', field: 'x-context' })]);
      }
    }
    // A well-formed context from elsewhere is accepted: it only claims versions the reader could have seen.
    expect((await put('ctx', 'v', { 'x-context': valid })).statusCode).toBe(204);
  });

  it('rejects w, r and consistency outside 1..N or of the wrong type, naming the field', async () => {
    // Proves per-request quorum sizes are validated against this node's N (1 here) before anything is written.
    const cases: Array<[string, string]> = [
      ['?w=0', 'w'],
      ['?w=2', 'w'],
      ['?w=abc', 'w'],
      ['?w=1.5', 'w'],
      ['?w=', 'w'],
      ['?r=-1', 'r'],
      ['?r=99999999999999999999', 'r'],
      ['?consistency=strong', 'consistency'],
      ['?consistency=', 'consistency'],
    ];
    for (const [query, field] of cases) {
      for (const method of ['PUT', 'GET', 'DELETE'] as const) {
        const response = await app.inject({
          method,
          url: url('q', query),
          ...(method === 'PUT' ? { payload: 'v' } : {}),
        });
        const problem = expectProblem(response, 400);
        expect(
          problem.errors?.map((error) => `${error.in}.${error.field}`),
          `${method} ${query}`,
        ).toContain(`query.${field}`);
      }
    }
    for (const query of [
      '?w=1',
      '?r=1',
      '?consistency=one',
      '?consistency=quorum',
      '?consistency=all',
      '?w=1&consistency=all',
    ]) {
      expect((await put('q', 'v', {}, query)).statusCode, query).toBe(204);
    }
  });
});

describe('cluster, peers, operations', () => {
  it('describes the cluster: this node, its incarnation, members with their state and ring shares', async () => {
    // Proves GET /v1/cluster reports what an operator needs to see, for a one-node cluster.
    const response = await app.inject({ method: 'GET', url: '/v1/cluster' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.self).toMatchObject({ id: 'kv-3002', url: 'http://127.0.0.1:13002' });
    expect(body.self.incarnation).toBeGreaterThan(1_700_000_000);
    expect(body.replication).toMatchObject({ n: 1, w: 1, r: 1 });
    expect(body.members).toEqual([
      expect.objectContaining({
        url: 'http://127.0.0.1:13002',
        id: 'kv-3002',
        state: 'alive',
        onRing: true,
        ownership: { primary: 1, replica: 1 },
      }),
    ]);
  });

  it('has no peer API without a cluster secret: /internal answers 404, and the docs do not list it', async () => {
    // Proves a node of one without CLUSTER_SECRET exposes nothing a stranger could replicate into.
    const peer = await app.inject({
      method: 'POST',
      url: '/internal/v1/peer',
      payload: { type: 'read', key: 'k' },
    });
    expect(expectProblem(peer, 404).code).toBe('ERR_NOT_FOUND');
    const docs = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(Object.keys(docs.json().paths)).not.toContain('/internal/v1/peer');
  });

  it('is ready, and exports request, storage and cluster metrics', async () => {
    // Proves readiness reports its checks and /metrics carries the kv-store series.
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(Object.keys(ready.json().checks).sort()).toEqual(['hint-storage', 'quorum', 'storage']);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/kv_requests_total\{[^}]*op="put"[^}]*outcome="ok"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/kv_requests_total\{[^}]*op="put"[^}]*outcome="invalid"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/kv_engine_writes_total\{[^}]*engine="data"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/kv_gossip_members\{[^}]*state="alive"[^}]*\} 1/);
  });
});
