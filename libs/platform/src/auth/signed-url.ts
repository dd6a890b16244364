import { createHmac, timingSafeEqual } from 'node:crypto';
import { defineProblems } from '../errors.js';
import { secretBytes } from './tokens.js';

/**
 * HMAC-signed URLs: a service hands a client a URL that allows one method on one path until a
 * time, with extra terms (e.g. `maxBytes` for an upload) fixed by the signature. The client needs
 * no token; whoever holds the URL may use it until it expires.
 *
 * The MAC covers the method, the path exactly as it appears on the wire (percent-encoded, before
 * the `?`), the expiry, and every other query parameter sorted by name, so adding, removing or
 * changing any parameter breaks it. Values are signed decoded, so `%20` and `+` re-encodings of
 * the same value still verify. The key is derived from the auth secret, so a signature can never
 * double as anything signed with the secret itself (bearer tokens).
 */

export const EXPIRES_PARAM = 'expires';
export const SIGNATURE_PARAM = 'signature';
export const MAX_SIGNED_URL_TTL_SECONDS = 7 * 24 * 60 * 60;
export const MAX_SIGNED_PATH_LENGTH = 2048;
export const MAX_SIGNED_PARAMS = 16;
export const MAX_SIGNED_PARAM_VALUE_LENGTH = 1024;

const KEY_LABEL = 'sysdesign signed-url v1';
const METHOD = /^[A-Z]{1,16}$/;
const PARAM_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** Wire-form path: printable ASCII without space, `?` or `#`. */
const WIRE_PATH = /^\/[\x21-\x22\x24-\x3e\x40-\x7e]*$/;
const EXPIRES = /^[0-9]{1,12}$/;

export const signedUrlProblems = defineProblems({
  AUTH_ERR_SIGNED_URL_INVALID: { status: 403, title: 'Invalid signed URL' },
  AUTH_ERR_SIGNED_URL_EXPIRED: { status: 403, title: 'Signed URL expired' },
});

export interface SignUrlOptions {
  method: string;
  /** The path as sent on the wire (already percent-encoded), starting with '/'. */
  path: string;
  expiresAt: Date;
  /** Extra terms the holder may not change, e.g. `{ maxBytes: 10_000_000 }`. */
  params?: Record<string, string | number>;
  /** Milliseconds since the epoch, to bound the lifetime; defaults to Date.now. */
  now?: () => number;
}

export interface VerifySignedUrlOptions {
  /** The request's method. */
  method: string;
  /** The request's URL as received: path and query (Fastify's `request.url`). */
  url: string;
  now?: () => number;
}

export interface VerifiedSignedUrl {
  path: string;
  expiresAt: Date;
  /** The signed extra parameters, as strings. */
  params: Record<string, string>;
}

/** Returns `path?…&expires=…&signature=…`, to append to the service's base URL. */
export function signUrl(secret: string | Uint8Array, options: SignUrlOptions): string {
  const method = options.method.toUpperCase();
  if (!METHOD.test(method))
    throw new RangeError(`method ${JSON.stringify(options.method)} is not an HTTP method`);
  if (options.path.length > MAX_SIGNED_PATH_LENGTH || !WIRE_PATH.test(options.path)) {
    throw new RangeError('path must start with / and be percent-encoded, without ? or #');
  }
  const expiresMs = options.expiresAt.getTime();
  const nowMs = (options.now ?? Date.now)();
  if (!(expiresMs > nowMs && expiresMs <= nowMs + MAX_SIGNED_URL_TTL_SECONDS * 1000)) {
    throw new RangeError(`expiresAt must be in the future, at most ${MAX_SIGNED_URL_TTL_SECONDS} s ahead`);
  }
  const params = new Map<string, string>();
  for (const [name, value] of Object.entries(options.params ?? {})) params.set(name, String(value));
  assertExtraParams(params);
  const expires = String(Math.floor(expiresMs / 1000));
  const query = new URLSearchParams([...params.entries()]);
  query.set(EXPIRES_PARAM, expires);
  query.set(SIGNATURE_PARAM, signatureOf(secret, method, options.path, expires, params));
  return `${options.path}?${query.toString()}`;
}

/** The signed terms of a request's URL, or AUTH_ERR_SIGNED_URL_INVALID / _EXPIRED (403). */
export function verifySignedUrl(
  secret: string | Uint8Array,
  options: VerifySignedUrlOptions,
): VerifiedSignedUrl {
  const invalid = (detail: string) => signedUrlProblems.AUTH_ERR_SIGNED_URL_INVALID(detail);
  const queryStart = options.url.indexOf('?');
  if (queryStart === -1) throw invalid('the URL carries no signature');
  const path = options.url.slice(0, queryStart);
  const params = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(options.url.slice(queryStart + 1))) {
    if (params.has(name)) throw invalid(`parameter ${name} appears twice`);
    params.set(name, value);
  }
  const signature = params.get(SIGNATURE_PARAM);
  const expires = params.get(EXPIRES_PARAM);
  if (signature === undefined || expires === undefined || !EXPIRES.test(expires)) {
    throw invalid('the URL lacks a well-formed signature or expiry');
  }
  params.delete(SIGNATURE_PARAM);
  params.delete(EXPIRES_PARAM);
  if (params.size > MAX_SIGNED_PARAMS) throw invalid('too many parameters');
  const expected = signatureOf(secret, options.method.toUpperCase(), path, expires, params);
  if (!constantTimeEqual(signature, expected)) throw invalid('the signature does not match this request');
  // Expiry is checked after the signature, so a forged expiry reads as tampering.
  const expiresAt = new Date(Number(expires) * 1000);
  if ((options.now ?? Date.now)() > expiresAt.getTime()) {
    throw signedUrlProblems.AUTH_ERR_SIGNED_URL_EXPIRED(`the URL expired at ${expiresAt.toISOString()}`);
  }
  return { path, expiresAt, params: Object.fromEntries(params) };
}

function assertExtraParams(params: Map<string, string>): void {
  if (params.size > MAX_SIGNED_PARAMS) throw new RangeError(`at most ${MAX_SIGNED_PARAMS} extra parameters`);
  for (const [name, value] of params) {
    if (name === EXPIRES_PARAM || name === SIGNATURE_PARAM)
      throw new RangeError(`parameter name ${name} is reserved`);
    if (!PARAM_NAME.test(name)) throw new RangeError(`parameter name ${JSON.stringify(name)} is not allowed`);
    if (value.length > MAX_SIGNED_PARAM_VALUE_LENGTH) throw new RangeError(`parameter ${name} is too long`);
  }
}

function signatureOf(
  secret: string | Uint8Array,
  method: string,
  path: string,
  expires: string,
  params: Map<string, string>,
): string {
  const key = createHmac('sha256', secretBytes(secret)).update(KEY_LABEL).digest();
  const sorted = [...params.entries()].sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
  const canonicalParams = sorted.map(
    ([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`,
  );
  // Newlines cannot occur in the method, the path or the encoded parameters, so fields cannot blur.
  const canonical = [method, path, expires, canonicalParams.join('&')].join('\n');
  return createHmac('sha256', key).update(canonical).digest('base64url');
}

function constantTimeEqual(given: string, expected: string): boolean {
  const givenBytes = Buffer.from(given, 'utf8');
  const expectedBytes = Buffer.from(expected, 'utf8');
  // The expected length is public (a SHA-256 in base64url), so comparing lengths first leaks nothing.
  return givenBytes.byteLength === expectedBytes.byteLength && timingSafeEqual(givenBytes, expectedBytes);
}
