import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireUser, TokenAuthority, userOf } from '../../src/auth/index.js';
import { createService, type ServiceApp } from '../../src/service.js';

const START_MS = Date.UTC(2030, 0, 1);
const clock = { nowMs: START_MS };
const authority = new TokenAuthority({
  secret: 'require-user-test-secret-of-32-bytes',
  now: () => clock.nowMs,
});

let app: ServiceApp;

beforeAll(async () => {
  app = await createService({ name: 'auth-test' }, { LOG_LEVEL: 'silent' });
  app.get('/v1/me', { preHandler: requireUser(authority) }, async (request) => userOf(request));
  app.post('/v1/admin', { preHandler: requireUser(authority, { scopes: ['admin', 'audit'] }) }, async () => ({
    ok: true,
  }));
  await app.register(async (scoped) => {
    scoped.addHook('preHandler', requireUser(authority));
    scoped.get('/v1/scoped', async (request) => ({ id: userOf(request).id }));
  });
  await app.ready();
});

afterAll(async () => {
  await app.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('requireUser', () => {
  it('sets request.user from a valid bearer token', async () => {
    // Proves the happy path: the handler sees the token's subject and scopes as request.user.
    const token = await authority.issue('alice', { ttlSeconds: 60, scopes: ['read'] });
    const response = await app.inject({ url: '/v1/me', headers: bearer(token) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ id: 'alice', scopes: ['read'] });
    const scoped = await app.inject({ url: '/v1/scoped', headers: { authorization: `bearer ${token}` } });
    expect(scoped.json()).toEqual({ id: 'alice' });
  });

  it('answers 401 problem+json with a bare Bearer challenge when no credentials are sent', async () => {
    // Proves RFC 6750 section 3.1: no token (or another scheme) gets the challenge without an error code.
    for (const headers of [{}, { authorization: 'Basic YWxpY2U6c2VjcmV0' }]) {
      const response = await app.inject({ url: '/v1/me', headers });
      expect(response.statusCode).toBe(401);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="sysdesign"');
      expect(response.json()).toMatchObject({
        type: 'urn:sysdesign:problem:err-unauthorized',
        status: 401,
        code: 'ERR_UNAUTHORIZED',
        reason: 'missing',
        instance: '/v1/me',
      });
    }
  });

  it('answers 401 with error="invalid_token" for a malformed, forged or expired token', async () => {
    // Proves every bad token is a 401 invalid_token challenge; the reason says which.
    const expired = await authority.issue('alice', { ttlSeconds: 60 });
    const forged = await new TokenAuthority({ secret: 'x'.repeat(32), now: () => clock.nowMs }).issue(
      'alice',
      {
        ttlSeconds: 60,
      },
    );
    clock.nowMs = START_MS + 120_000;
    try {
      const cases: Array<[string, string]> = [
        ['Bearer not a token', 'invalid'],
        ['Bearer abc.def.ghi', 'invalid'],
        [`Bearer ${forged}`, 'invalid'],
        [`Bearer ${expired}`, 'expired'],
      ];
      for (const [authorization, reason] of cases) {
        const response = await app.inject({ url: '/v1/me', headers: { authorization } });
        expect(response.statusCode).toBe(401);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(response.headers['www-authenticate']).toMatch(
          /^Bearer realm="sysdesign", error="invalid_token"/,
        );
        expect(response.json()).toMatchObject({ code: 'ERR_UNAUTHORIZED', reason });
      }
    } finally {
      clock.nowMs = START_MS;
    }
  });

  it('answers 403 with error="insufficient_scope" when a required scope is missing', async () => {
    // Proves scope checks: a valid token lacking one of two required scopes is forbidden, with both named.
    const token = await authority.issue('bob', { ttlSeconds: 60, scopes: ['admin'] });
    const response = await app.inject({ method: 'POST', url: '/v1/admin', headers: bearer(token) });
    expect(response.statusCode).toBe(403);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.headers['www-authenticate']).toBe(
      'Bearer realm="sysdesign", error="insufficient_scope", scope="admin audit"',
    );
    expect(response.json()).toMatchObject({
      code: 'ERR_FORBIDDEN',
      status: 403,
      requiredScopes: ['admin', 'audit'],
    });
    const full = await authority.issue('bob', { ttlSeconds: 60, scopes: ['audit', 'admin', 'extra'] });
    const allowed = await app.inject({ method: 'POST', url: '/v1/admin', headers: bearer(full) });
    expect(allowed.statusCode).toBe(200);
  });
});
