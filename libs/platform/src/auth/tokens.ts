import { errors, jwtVerify, SignJWT } from 'jose';
import { type Problem, platformProblems } from '../errors.js';

/**
 * Bearer tokens: JWTs signed with HS256 under `AUTH_SECRET`. Every service that shares the secret
 * accepts the same tokens, and a user can mint one with any JWT library. Verification accepts
 * HS256 only (never `none`, never an asymmetric algorithm whose public key could be confused with
 * the secret), requires our issuer and audience, and tolerates a few seconds of clock skew.
 */

export const TOKEN_ALGORITHM = 'HS256';
export const TOKEN_ISSUER = 'sysdesign';
export const TOKEN_AUDIENCE = 'sysdesign';
/** Hosts' clocks disagree a little; a token stays good this long past `exp` (and before `nbf`). */
export const CLOCK_TOLERANCE_SECONDS = 5;
/** HS256 is as strong as its key: RFC 7518 asks for at least the hash size, 256 bits. */
export const MIN_SECRET_BYTES = 32;
export const MAX_TOKEN_TTL_SECONDS = 30 * 24 * 60 * 60;
export const MAX_SUBJECT_LENGTH = 256;
export const MAX_SCOPES = 64;
/** A longer Authorization value is refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;

/** RFC 6749 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;

export interface TokenAuthorityOptions {
  /** At least MIN_SECRET_BYTES bytes; a string is taken as UTF-8. */
  secret: string | Uint8Array;
  /** Milliseconds since the epoch; injected so tests can move time. */
  now?: (() => number) | undefined;
}

export interface IssueOptions {
  ttlSeconds: number;
  scopes?: readonly string[];
}

export interface VerifiedToken {
  subject: string;
  scopes: string[];
  expiresAt: Date;
}

export type TokenFailure = 'missing' | 'invalid' | 'expired';

const REALM = 'Bearer realm="sysdesign"';

/**
 * The 401 for a bearer token, with the RFC 6750 challenge. A request without credentials gets
 * the bare challenge (the RFC asks for no error code then); a bad or expired token gets
 * `error="invalid_token"`.
 */
export function unauthorized(failure: TokenFailure, detail: string): Problem {
  const challenge =
    failure === 'missing' ? REALM : `${REALM}, error="invalid_token", error_description="${detail}"`;
  return platformProblems.ERR_UNAUTHORIZED(detail, { reason: failure }, { 'WWW-Authenticate': challenge });
}

export function secretBytes(secret: string | Uint8Array): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (bytes.byteLength < MIN_SECRET_BYTES) {
    throw new Error(`the auth secret must be at least ${MIN_SECRET_BYTES} bytes, got ${bytes.byteLength}`);
  }
  return bytes;
}

export function assertScopes(scopes: readonly string[]): void {
  if (scopes.length > MAX_SCOPES) throw new RangeError(`at most ${MAX_SCOPES} scopes, got ${scopes.length}`);
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope))
      throw new RangeError(`scope ${JSON.stringify(scope)} is not an RFC 6749 scope token`);
  }
}

export class TokenAuthority {
  private readonly key: Uint8Array;
  private readonly now: () => number;

  constructor(options: TokenAuthorityOptions) {
    this.key = secretBytes(options.secret);
    this.now = options.now ?? Date.now;
  }

  /** A signed token for `subject`, valid for `ttlSeconds` from now. */
  async issue(subject: string, options: IssueOptions): Promise<string> {
    if (subject.length === 0 || subject.length > MAX_SUBJECT_LENGTH) {
      throw new RangeError(`a subject must be 1..${MAX_SUBJECT_LENGTH} characters`);
    }
    const { ttlSeconds } = options;
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
      throw new RangeError(`ttlSeconds must be an integer in 1..${MAX_TOKEN_TTL_SECONDS}, got ${ttlSeconds}`);
    }
    const scopes = options.scopes ?? [];
    assertScopes(scopes);
    const nowSeconds = Math.floor(this.now() / 1000);
    return new SignJWT({ scope: scopes.join(' ') })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT' })
      .setSubject(subject)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + ttlSeconds)
      .sign(this.key);
  }

  /** The token's claims, or a 401 problem (reason `invalid` or `expired`). */
  async verify(token: string): Promise<VerifiedToken> {
    if (token.length > MAX_TOKEN_LENGTH) throw unauthorized('invalid', 'the token is too long');
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: [TOKEN_ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(this.now()),
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw unauthorized('expired', 'the token has expired');
      if (error instanceof errors.JOSEError) throw unauthorized('invalid', 'the token is invalid');
      throw error;
    }
    const { sub, exp, scope } = payload;
    if (typeof sub !== 'string' || sub.length === 0 || typeof exp !== 'number') {
      throw unauthorized('invalid', 'the token is invalid');
    }
    if (scope !== undefined && typeof scope !== 'string')
      throw unauthorized('invalid', 'the token is invalid');
    const scopes = (scope ?? '').split(' ').filter((item) => item.length > 0);
    return { subject: sub, scopes, expiresAt: new Date(exp * 1000) };
  }
}
