import type { ServiceApp } from '@sysdesign/platform';
import {
  expectForgedRequestIdHandled,
  expectProblem,
  FORGED_REQUEST_IDS,
  type HostileRequest,
} from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authHeaders, createGroup, type Deployment, deployment } from './helpers.js';

/**
 * Every REST endpoint, every field missing, wrong-typed, huge or malformed, forged headers: a
 * problem+json 4xx each time, never a 500. (Hostile WebSocket frames are in socket.test.ts.)
 */

let current: Deployment;
let app: ServiceApp;
let headers: Record<string, string>;
let channelId: string;

beforeAll(async () => {
  current = deployment();
  ({ app } = await current.start());
  headers = await authHeaders('alice');
  channelId = await createGroup(app, 'alice', ['bob']);
});

afterAll(async () => {
  await current.close();
});

const LONE_SURROGATE = 'a\ud800b';

describe('hostile REST input', () => {
  it('refuses every endpoint without a token, with a bad one, and with another scheme', async () => {
    const endpoints: HostileRequest[] = [
      { method: 'POST', url: '/v1/channels', payload: { kind: 'direct', userId: 'x' } },
      { url: '/v1/channels' },
      { url: '/v1/channels/g_1' },
      { url: '/v1/channels/g_1/members' },
      { method: 'POST', url: '/v1/channels/g_1/members', payload: { userId: 'x' } },
      { method: 'DELETE', url: '/v1/channels/g_1/members/me' },
      { method: 'POST', url: '/v1/channels/g_1/read', payload: { seq: 1 } },
      { url: '/v1/channels/g_1/messages' },
      { method: 'POST', url: '/v1/channels/g_1/messages', payload: { clientMsgId: 'a', body: 'b' } },
      { method: 'PATCH', url: '/v1/channels/g_1/messages/1', payload: { body: 'b' } },
      { method: 'DELETE', url: '/v1/channels/g_1/messages/1' },
      { url: '/v1/presence?users=a' },
      { url: '/v1/me/pushes' },
      { url: '/v1/socket' },
    ];
    for (const request of endpoints) {
      await expectProblem(app, request, 401, 'ERR_UNAUTHORIZED');
      await expectProblem(
        app,
        { ...request, headers: { authorization: 'Bearer x.y.z' } },
        401,
        'ERR_UNAUTHORIZED',
      );
      await expectProblem(
        app,
        { ...request, headers: { authorization: 'Basic YTpi' } },
        401,
        'ERR_UNAUTHORIZED',
      );
    }
  });

  it('refuses malformed channel creation bodies field by field', async () => {
    const bodies: Record<string, unknown>[] = [
      {},
      { kind: 'nope' },
      { kind: 'direct' },
      { kind: 'direct', userId: 7 },
      { kind: 'direct', userId: '' },
      { kind: 'direct', userId: 'u'.repeat(300) },
      { kind: 'direct', userId: 'b', extra: true },
      { kind: 'group' },
      { kind: 'group', name: '' },
      { kind: 'group', name: 'n'.repeat(101) },
      { kind: 'group', name: 'ok', members: 'bob' },
      { kind: 'group', name: 'ok', members: [1] },
      { kind: 'group', name: 'ok', members: Array.from({ length: 600 }, (_, index) => `m${index}`) },
    ];
    for (const payload of bodies) {
      await expectProblem(
        app,
        { method: 'POST', url: '/v1/channels', headers, payload },
        400,
        'ERR_VALIDATION',
      );
    }
    await expectProblem(
      app,
      { method: 'POST', url: '/v1/channels', headers, payload: { kind: 'group', name: LONE_SURROGATE } },
      400,
      'CHAT_ERR_INVALID_TEXT',
    );
    await expectProblem(
      app,
      { method: 'POST', url: '/v1/channels', headers, payload: { kind: 'direct', userId: 'a\u0000b' } },
      400,
      'CHAT_ERR_INVALID_TEXT',
    );
    await expectProblem(
      app,
      {
        method: 'POST',
        url: '/v1/channels',
        headers: { ...headers, 'content-type': 'application/json' },
        payload: '{"kind":',
      },
      400,
      'ERR_MALFORMED_BODY',
    );
  });

  it('refuses malformed messages, cursors and channel ids', async () => {
    const url = `/v1/channels/${channelId}/messages`;
    const bodies: Record<string, unknown>[] = [
      {},
      { clientMsgId: 'a' },
      { body: 'b' },
      { clientMsgId: '', body: 'b' },
      { clientMsgId: 'with space', body: 'b' },
      { clientMsgId: 'x'.repeat(65), body: 'b' },
      { clientMsgId: 'a', body: '' },
      { clientMsgId: 'a', body: 5 },
      { clientMsgId: 'a', body: 'x'.repeat(5_000) },
      { clientMsgId: 'a', body: 'b', extra: 1 },
    ];
    for (const payload of bodies) {
      await expectProblem(app, { method: 'POST', url, headers, payload }, 400, 'ERR_VALIDATION');
    }
    await expectProblem(
      app,
      { method: 'POST', url, headers, payload: { clientMsgId: 'a', body: LONE_SURROGATE } },
      400,
      'CHAT_ERR_INVALID_TEXT',
    );
    // 4,096 characters of 4-byte emoji pass the character bound and fail the byte bound.
    await expectProblem(
      app,
      { method: 'POST', url, headers, payload: { clientMsgId: 'a', body: '😀'.repeat(2_000) } },
      413,
      'CHAT_ERR_MESSAGE_TOO_LARGE',
    );
    for (const query of ['before=-1', 'after=x', 'limit=0', 'limit=1001', 'after=1e400', 'before=1.5']) {
      await expectProblem(app, { url: `${url}?${query}`, headers }, 400, 'ERR_VALIDATION');
    }
    for (const bad of ['nope', 'g_', 'g_UPPER', `g_${'1'.repeat(41)}`, '%00', 'd_..']) {
      const response = await app.inject({ url: `/v1/channels/${bad}/messages`, headers });
      expect(response.statusCode, bad).toBeGreaterThanOrEqual(400);
      expect(response.statusCode, bad).toBeLessThan(500);
    }
    await expectProblem(
      app,
      { url: '/v1/channels/g_zzzz/messages', headers },
      404,
      'CHAT_ERR_CHANNEL_NOT_FOUND',
    );
  });

  it('refuses malformed edits, deletes, reads, members and presence queries', async () => {
    const base = `/v1/channels/${channelId}`;
    await expectProblem(
      app,
      { method: 'PATCH', url: `${base}/messages/0`, headers, payload: { body: 'x' } },
      400,
      'ERR_VALIDATION',
    );
    await expectProblem(
      app,
      { method: 'PATCH', url: `${base}/messages/abc`, headers, payload: { body: 'x' } },
      400,
      'ERR_VALIDATION',
    );
    await expectProblem(
      app,
      { method: 'PATCH', url: `${base}/messages/1`, headers, payload: {} },
      400,
      'ERR_VALIDATION',
    );
    await expectProblem(
      app,
      { method: 'PATCH', url: `${base}/messages/99`, headers, payload: { body: 'x' } },
      404,
      'CHAT_ERR_MESSAGE_NOT_FOUND',
    );
    await expectProblem(
      app,
      { method: 'DELETE', url: `${base}/messages/99`, headers },
      404,
      'CHAT_ERR_MESSAGE_NOT_FOUND',
    );
    for (const payload of [{}, { seq: -1 }, { seq: 'x' }, { seq: 1.5 }, { seq: 2 ** 60 }]) {
      await expectProblem(
        app,
        { method: 'POST', url: `${base}/read`, headers, payload },
        400,
        'ERR_VALIDATION',
      );
    }
    for (const payload of [{}, { userId: '' }, { userId: 3 }, { userId: 'u'.repeat(300) }]) {
      await expectProblem(
        app,
        { method: 'POST', url: `${base}/members`, headers, payload },
        400,
        'ERR_VALIDATION',
      );
    }
    await expectProblem(app, { url: `${base}/members?limit=0`, headers }, 400, 'ERR_VALIDATION');
    await expectProblem(app, { url: '/v1/presence', headers }, 400, 'ERR_VALIDATION');
    await expectProblem(app, { url: '/v1/presence?users=', headers }, 400, 'ERR_VALIDATION');
    const many = Array.from({ length: 101 }, (_, index) => `u${index}`).join(',');
    await expectProblem(app, { url: `/v1/presence?users=${many}`, headers }, 400, 'ERR_VALIDATION');
    // Someone else's channel: the same 404 as a channel that does not exist.
    const stranger = await authHeaders('mallory');
    await expectProblem(
      app,
      { method: 'POST', url: `${base}/read`, headers: stranger, payload: { seq: 1 } },
      404,
      'CHAT_ERR_CHANNEL_NOT_FOUND',
    );
    await expectProblem(
      app,
      { method: 'POST', url: `${base}/members`, headers: stranger, payload: { userId: 'mallory' } },
      404,
      'CHAT_ERR_CHANNEL_NOT_FOUND',
    );
    await expectProblem(
      app,
      { method: 'DELETE', url: `${base}/members/me`, headers: stranger },
      404,
      'CHAT_ERR_CHANNEL_NOT_FOUND',
    );
  });

  it('answers a plain GET of the socket with 426 and a bad device id with 400', async () => {
    await expectProblem(app, { url: '/v1/socket', headers }, 426, 'CHAT_ERR_UPGRADE_REQUIRED');
    await expectProblem(app, { url: '/v1/socket?device=../../x', headers }, 400, 'ERR_VALIDATION');
  });

  it('never echoes a forged request id', async () => {
    for (const [, requestId] of FORGED_REQUEST_IDS) {
      await expectForgedRequestIdHandled(app, { url: '/v1/channels', headers }, requestId);
    }
  });
});
