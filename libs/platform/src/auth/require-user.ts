import type { FastifyRequest } from 'fastify';
import { platformProblems } from '../errors.js';
import { assertScopes, MAX_TOKEN_LENGTH, type TokenAuthority, unauthorized } from './tokens.js';

/**
 * `requireUser(authority, { scopes })` is a preHandler for routes that need a signed-in user:
 * it reads `Authorization: Bearer <jwt>`, verifies it, checks the scopes, and sets
 * `request.user`. Failures are thrown as problems, so the service's error handler answers
 * 401 (with a `WWW-Authenticate: Bearer` challenge) or 403 (`error="insufficient_scope"`).
 *
 *   app.get('/v1/wallet', { preHandler: requireUser(authority, { scopes: ['wallet:read'] }) }, handler)
 *   app.addHook('preHandler', requireUser(authority))   // every route of an encapsulated plugin
 */

export interface AuthUser {
  id: string;
  scopes: string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the `requireUser` preHandler; absent on routes that do not use it. */
    user?: AuthUser;
  }
}

export interface RequireUserOptions {
  /** Every one of these must be in the token's scopes, else 403. */
  scopes?: readonly string[];
}

/** RFC 6750 b64token after the scheme; the scheme is case-insensitive. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export function requireUser(
  authority: TokenAuthority,
  options: RequireUserOptions = {},
): (request: FastifyRequest) => Promise<void> {
  const required = [...(options.scopes ?? [])];
  assertScopes(required);
  const insufficientScope = `Bearer realm="sysdesign", error="insufficient_scope", scope="${required.join(' ')}"`;

  return async function requireUserPreHandler(request: FastifyRequest): Promise<void> {
    const verified = await authority.verify(bearerTokenOf(request.headers.authorization));
    const missing = required.filter((scope) => !verified.scopes.includes(scope));
    if (missing.length > 0) {
      throw platformProblems.ERR_FORBIDDEN(
        `the token lacks scope ${missing.join(' ')}`,
        { requiredScopes: required },
        { 'WWW-Authenticate': insufficientScope },
      );
    }
    request.user = { id: verified.subject, scopes: verified.scopes };
  };
}

/** The token of an Authorization header; another scheme counts as no credentials at all. */
export function bearerTokenOf(header: string | undefined): string {
  if (header === undefined || header.length === 0)
    throw unauthorized('missing', 'a bearer token is required');
  if (header.length > MAX_TOKEN_LENGTH + 16) throw unauthorized('invalid', 'the token is too long');
  if (!/^bearer /i.test(header)) throw unauthorized('missing', 'a bearer token is required');
  const match = BEARER.exec(header);
  if (match === null) throw unauthorized('invalid', 'the Authorization header is malformed');
  return match[1]!;
}

/** The user a `requireUser` preHandler set. A route that calls this without one is a bug. */
export function userOf(request: FastifyRequest): AuthUser {
  if (request.user === undefined)
    throw new Error(`route ${request.routeOptions.url} reads the user without requireUser`);
  return request.user;
}
