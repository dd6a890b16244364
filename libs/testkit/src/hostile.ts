import { expect } from 'vitest';

/**
 * Cases every service's hostile-input suite shares. A forged `x-request-id` must never be echoed
 * into a response header as sent: CRLF would split the response, and a huge one would bloat every
 * log line that carries it.
 */
export const FORGED_REQUEST_IDS: ReadonlyArray<readonly [string, string]> = [
  ['huge', 'r'.repeat(8_000)],
  ['with CRLF', 'abc\r\nx-injected: yes'],
  ['with control characters', 'abc\u0000\u001b[31m'],
];

/** A request as `app.inject()` takes it, as far as these helpers need. */
export interface HostileRequest {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
  url: string;
  headers?: Record<string, string>;
  payload?: string | Record<string, unknown>;
}

/** The slice of a Fastify app these helpers need. */
export interface Injectable {
  inject(
    request: HostileRequest,
  ): Promise<{ statusCode: number; headers: Record<string, unknown>; json(): unknown }>;
}

/**
 * Sends `request` and expects a refusal: `status`, an `application/problem+json` body with that
 * status and `code`, and, when given, `field` named in its detail. Answers the body.
 */
export async function expectProblem(
  app: Injectable,
  request: HostileRequest | string,
  status: number,
  code: string,
  field?: string,
): Promise<Record<string, unknown>> {
  const response = await app.inject(typeof request === 'string' ? { url: request } : request);
  expect(response.statusCode).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.json() as Record<string, unknown>;
  expect(body).toMatchObject({ status, code });
  if (field !== undefined) expect(body.detail).toContain(field);
  return body;
}

/**
 * Sends `request` with the forged request id and checks the answer: below 500, no injected header,
 * and an `x-request-id` without line breaks and at most 256 characters. The HTTP layer may refuse to
 * send an invalid header value at all; then the service never saw it, which passes too.
 */
export async function expectForgedRequestIdHandled(
  app: Injectable,
  request: HostileRequest,
  requestId: string,
): Promise<void> {
  let response: { statusCode: number; headers: Record<string, unknown> };
  try {
    response = await app.inject({ ...request, headers: { ...request.headers, 'x-request-id': requestId } });
  } catch {
    return;
  }
  expect(response.statusCode).toBeLessThan(500);
  expect(response.headers['x-injected']).toBeUndefined();
  const echoed = String(response.headers['x-request-id'] ?? '');
  expect(echoed).not.toMatch(/[\r\n]/);
  expect(echoed.length).toBeLessThanOrEqual(256);
}
