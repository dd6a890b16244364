import { EmbeddedPostgres, InProcessEventBus } from '@sysdesign/platform';
import {
  expectForgedRequestIdHandled,
  expectProblem,
  FORGED_REQUEST_IDS,
  freshSchemaName,
  type HostileRequest,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../src/domain/score.js';
import { type Built, bearerOf, buildFromEnv, Client } from './helpers.js';

/**
 * Bad input never reaches a 500: bad and forged cursors, oversized, blank and malformed-Unicode
 * posts, following yourself, unknown users and posts, someone else's post, unregistered callers,
 * missing or forged tokens, wrong-typed and missing fields on every endpoint, posting too fast,
 * forged request ids.
 */

let embedded: EmbeddedPostgres;
let bus: InProcessEventBus;
let built: Built;
let alice: Record<string, string>;
let postId: string;

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
  bus = await InProcessEventBus.open();
  built = await buildFromEnv(
    { POST_MAX_CHARS: '280', POST_RATE_LIMIT: '5', PAGE_MAX: '50' },
    { embedded, bus, schema: freshSchemaName('feed_hostile') },
  );
  const client = await Client.of(built.app, 'alice');
  await client.register();
  await (await Client.of(built.app, 'bob')).register();
  alice = await bearerOf('alice');
  postId = (await client.post('hello')).id;
});

afterAll(async () => {
  await built?.app.close();
  await bus?.close();
  await embedded?.close();
});

const as = (headers: Record<string, string>, request: HostileRequest): HostileRequest => ({
  ...request,
  headers: { ...request.headers, ...headers },
});

describe('cursors', () => {
  it('refuses cursors it did not issue with 400 FEED_ERR_BAD_CURSOR', async () => {
    const forged = [
      'garbage',
      Buffer.from('f1.12.34').toString('base64url'),
      Buffer.from('f1.-1.5').toString('base64url'),
      Buffer.from('f2.1.1').toString('base64url'),
      Buffer.from(`f1.${2 ** 60}.99999999999999999999`).toString('base64url'),
      '%00%01',
      encodeCursor({ score: 5, id: 5n }).replace(/.$/, '*'),
    ];
    for (const cursor of forged) {
      const url = `/v1/feed?cursor=${encodeURIComponent(cursor)}`;
      await expectProblem(built.app, as(alice, { url }), 400, 'FEED_ERR_BAD_CURSOR');
      await expectProblem(
        built.app,
        as(alice, { url: `/v1/users/alice/posts?cursor=${encodeURIComponent(cursor)}` }),
        400,
        'FEED_ERR_BAD_CURSOR',
      );
    }
    await expectProblem(
      built.app,
      as(alice, { url: `/v1/feed?cursor=${'a'.repeat(200)}` }),
      400,
      'ERR_VALIDATION',
      'cursor',
    );
  });

  it('refuses limits outside 1..PAGE_MAX', async () => {
    for (const limit of ['0', '-1', '51', '1.5', 'ten', '1e9']) {
      await expectProblem(
        built.app,
        as(alice, { url: `/v1/feed?limit=${limit}` }),
        400,
        'ERR_VALIDATION',
        'limit',
      );
    }
  });
});

describe('posts', () => {
  it('refuses oversized, blank, non-string, NUL and lone-surrogate text with 400', async () => {
    const bodies: unknown[] = [
      { text: 'x'.repeat(281) },
      { text: '' },
      { text: '   ' },
      { text: 42 },
      { text: null },
      { text: ['a'] },
      {},
      { text: 'a\u0000b' },
    ];
    for (const payload of bodies) {
      await expectProblem(
        built.app,
        as(alice, { method: 'POST', url: '/v1/posts', payload: payload as Record<string, unknown> }),
        400,
        'ERR_VALIDATION',
      );
    }
    const loneSurrogate = '{"text":"broken \\ud800 text"}';
    await expectProblem(
      built.app,
      as(
        { ...alice, 'content-type': 'application/json' },
        { method: 'POST', url: '/v1/posts', payload: loneSurrogate },
      ),
      400,
      'ERR_VALIDATION',
      'text',
    );
    await expectProblem(
      built.app,
      as(
        { ...alice, 'content-type': 'application/json' },
        { method: 'POST', url: '/v1/posts', payload: '{"text":' },
      ),
      400,
      'ERR_MALFORMED_BODY',
    );
  });

  it('counts characters, not bytes: 280 emoji fit', async () => {
    const response = await built.app.inject(
      as(alice, { method: 'POST', url: '/v1/posts', payload: { text: 'é'.repeat(280) } }),
    );
    expect(response.statusCode).toBe(201);
  });

  it('refuses unknown and malformed post ids, and deleting someone else’s post', async () => {
    await expectProblem(built.app, as(alice, { url: '/v1/posts/123' }), 404, 'FEED_ERR_POST_NOT_FOUND');
    for (const id of ['abc', '-1', '0', '99999999999999999999', '1.5', '9223372036854775808']) {
      await expectProblem(built.app, as(alice, { url: `/v1/posts/${id}` }), 400, 'ERR_VALIDATION', 'id');
    }
    await expectProblem(
      built.app,
      as(alice, { method: 'PUT', url: '/v1/posts/123/like' }),
      404,
      'FEED_ERR_POST_NOT_FOUND',
    );
    await expectProblem(
      built.app,
      as(alice, { method: 'POST', url: '/v1/posts/123/replies', payload: { text: 'hi' } }),
      404,
      'FEED_ERR_POST_NOT_FOUND',
    );
    const bob = await bearerOf('bob');
    await expectProblem(
      built.app,
      as(bob, { method: 'DELETE', url: `/v1/posts/${postId}` }),
      403,
      'FEED_ERR_NOT_AUTHOR',
    );
    await expectProblem(
      built.app,
      as(bob, { url: `/v1/posts/${postId}/replies?before=abc` }),
      400,
      'ERR_VALIDATION',
      'before',
    );
  });

  it('rate-limits posting per user with 429 and Retry-After', async () => {
    const carol = await Client.of(built.app, 'carol');
    await carol.register();
    const statuses: number[] = [];
    let retryAfter: unknown;
    for (let index = 0; index < 7; index += 1) {
      const response = await carol.request('POST', '/v1/posts', { text: `p${index}` });
      statuses.push(response.statusCode);
      if (response.statusCode === 429) {
        retryAfter = response.headers['retry-after'];
        expect(response.json().code).toBe('FEED_ERR_RATE_LIMITED');
      }
    }
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });
});

describe('users and relations', () => {
  it('refuses following, blocking or muting yourself with 422', async () => {
    for (const relation of ['follow', 'block', 'mute']) {
      await expectProblem(
        built.app,
        as(alice, { method: 'PUT', url: `/v1/users/alice/${relation}` }),
        422,
        'FEED_ERR_SELF_RELATION',
      );
    }
  });

  it('refuses unknown and malformed users', async () => {
    for (const relation of ['follow', 'block', 'mute']) {
      await expectProblem(
        built.app,
        as(alice, { method: 'PUT', url: `/v1/users/nobody/${relation}` }),
        404,
        'FEED_ERR_USER_NOT_FOUND',
      );
      await expectProblem(
        built.app,
        as(alice, { method: 'DELETE', url: `/v1/users/nobody/${relation}` }),
        404,
        'FEED_ERR_USER_NOT_FOUND',
      );
    }
    await expectProblem(built.app, as(alice, { url: '/v1/users/nobody' }), 404, 'FEED_ERR_USER_NOT_FOUND');
    await expectProblem(
      built.app,
      as(alice, { url: '/v1/users/nobody/posts' }),
      404,
      'FEED_ERR_USER_NOT_FOUND',
    );
    for (const id of ['a'.repeat(65), 'has%20space', '%F0%9F%92%A9', 'semi%3Bcolon']) {
      await expectProblem(built.app, as(alice, { url: `/v1/users/${id}` }), 400, 'ERR_VALIDATION', 'id');
    }
  });

  it('refuses callers who never registered, and subjects that cannot be user ids', async () => {
    const stranger = await bearerOf('stranger');
    await expectProblem(built.app, as(stranger, { url: '/v1/feed' }), 403, 'FEED_ERR_NOT_REGISTERED');
    await expectProblem(
      built.app,
      as(stranger, { method: 'POST', url: '/v1/posts', payload: { text: 'hi' } }),
      403,
      'FEED_ERR_NOT_REGISTERED',
    );
    await expectProblem(
      built.app,
      as(stranger, { method: 'PUT', url: '/v1/users/alice/follow' }),
      403,
      'FEED_ERR_NOT_REGISTERED',
    );
    const odd = await bearerOf('has space:and/slash');
    await expectProblem(
      built.app,
      as(odd, { method: 'POST', url: '/v1/users', payload: { displayName: 'x' } }),
      400,
      'ERR_VALIDATION',
      'authorization',
    );
    for (const displayName of ['', 'x'.repeat(65), 5]) {
      await expectProblem(
        built.app,
        as(alice, { method: 'POST', url: '/v1/users', payload: { displayName } as Record<string, unknown> }),
        400,
        'ERR_VALIDATION',
        'displayName',
      );
    }
  });
});

describe('authentication', () => {
  it('refuses every endpoint without a valid bearer token with 401', async () => {
    const requests: HostileRequest[] = [
      { url: '/v1/feed' },
      { url: '/v1/users/alice' },
      { url: '/v1/users/alice/posts' },
      { method: 'POST', url: '/v1/users', payload: { displayName: 'x' } },
      { method: 'PUT', url: '/v1/users/alice/follow' },
      { method: 'POST', url: '/v1/posts', payload: { text: 'x' } },
      { method: 'DELETE', url: `/v1/posts/${postId}` },
      { method: 'PUT', url: `/v1/posts/${postId}/like` },
      { url: `/v1/posts/${postId}/replies` },
    ];
    for (const request of requests) {
      for (const authorization of [undefined, 'Bearer nope', 'Basic YTpi', `Bearer ${'a'.repeat(9_000)}`]) {
        const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
        await expectProblem(built.app, { ...request, headers }, 401, 'ERR_UNAUTHORIZED');
      }
    }
  });

  it('never echoes a forged request id', async () => {
    for (const [, requestId] of FORGED_REQUEST_IDS) {
      await expectForgedRequestIdHandled(built.app, as(alice, { url: '/v1/feed' }), requestId);
    }
  });
});
