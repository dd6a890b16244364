import { createLogger, loadConfig, type ServiceApp } from '@sysdesign/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, consoleService } from '../src/index.js';

/**
 * The console takes no input but the request itself: every route, sent hostile methods, paths,
 * queries, bodies and headers, answers a 4xx problem or its page, never a 500, and never calls an
 * address a request names.
 */

let app: ServiceApp;

beforeAll(async () => {
  const config = loadConfig(configSchema, { LOG_LEVEL: 'silent', HEALTH_TIMEOUT_MS: '200' });
  app = await consoleService.build({ ...config, CONSOLE_SERVICES: [] }, { logger: createLogger('silent') });
});
afterAll(() => app.close());

interface HostileRequest {
  method?: 'GET' | 'POST';
  url: string;
  payload?: string;
  headers?: Record<string, string>;
}

const hostileRequests: Array<[string, HostileRequest]> = [
  ['a query naming another address', { url: '/v1/services?url=http://169.254.169.254/' }],
  ['a lone surrogate in the query', { url: '/v1/services?name=%ED%A0%80' }],
  ['a path that does not decode', { url: '/v1/services/%ZZ' }],
  ['a huge path parameter', { url: `/${'x'.repeat(10_000)}` }],
  [
    'a body on a GET',
    {
      method: 'GET',
      url: '/v1/services',
      payload: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    },
  ],
  ['a POST to a GET route', { method: 'POST', url: '/v1/services', payload: '{}' }],
  ['a forged huge request id', { url: '/v1/services', headers: { 'x-request-id': 'r'.repeat(20_000) } }],
  ['a Host header naming a private address', { url: '/', headers: { host: '10.0.0.1:3000' } }],
  [
    'a body past the limit',
    {
      method: 'POST',
      url: '/',
      payload: 'x'.repeat(2_000_000),
      headers: { 'content-type': 'application/json' },
    },
  ],
];

describe('console under hostile input', () => {
  it.each(hostileRequests)('answers %s without a 500', async (_name, request) => {
    const response = await app.inject(request);
    expect(response.statusCode).toBeLessThan(500);
    if (response.statusCode >= 400) {
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json().code).toMatch(/^ERR_[A-Z_]+$/);
    }
  });

  it('lists only the configured services, whatever the request says', async () => {
    const response = await app.inject({ url: '/v1/services?url=http://127.0.0.1:1/' });
    expect(response.json()).toEqual({ services: [] });
  });
});
