// @ts-check
/**
 * Load test for the rate-limiter service (k6), against its default rules
 * (services/rate-limiter/config/rules.yaml: 100 requests a minute per remote_address).
 *
 *   k6 run load-tests/k6/rate-limiter.js                           (service on localhost:3001)
 *   k6 run -e BASE_URL=http://host:3001 load-tests/k6/rate-limiter.js
 *
 * One scenario, `checks`: POST /v1/check at a constant 2000/s, each for one of CLIENTS addresses
 * picked round-robin. Every answer must be a decision: 200 (allowed) or 429 (over the limit),
 * with the X-RateLimit-* and IETF RateLimit headers. With the defaults (1000 clients, 2000/s, 30 s)
 * each client asks 60 times a minute and stays under its 100: the run measures the cost of a
 * decision. Lower CLIENTS (say 10) and most answers become 429s: the cost of a refusal, which the
 * service's local over-limit cache keeps from reaching Redis.
 *
 * Environment: BASE_URL (default http://localhost:3001), DURATION (default 30s), RATE (default
 * 2000), CLIENTS (default 1000), DOMAIN (default api).
 */
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { positiveInteger } from './lib/env.js';

const BASE_URL = (__ENV.BASE_URL || 'http://localhost:3001').replace(/\/+$/, '');
const DURATION = __ENV.DURATION || '30s';
const RATE = positiveInteger('RATE', 2000);
const CLIENTS = positiveInteger('CLIENTS', 1000);
const DOMAIN = __ENV.DOMAIN || 'api';

const refused = new Counter('decisions_refused');

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    checks: {
      executor: 'constant-arrival-rate',
      exec: 'decide',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: 50,
      maxVUs: 500,
    },
  },
  thresholds: {
    checks: ['rate>0.99'],
    'http_req_duration{scenario:checks}': ['p(99)<25'],
    'dropped_iterations{scenario:checks}': [`count<${Math.ceil(RATE * 0.01)}`],
  },
};

export function decide() {
  const client = exec.scenario.iterationInTest % CLIENTS;
  const body = JSON.stringify({
    domain: DOMAIN,
    descriptors: [{ key: 'remote_address', value: `10.0.${client >> 8}.${client & 255}` }],
  });
  const response = http.post(`${BASE_URL}/v1/check`, body, {
    headers: { 'content-type': 'application/json' },
    tags: { name: 'POST /v1/check' },
    // A 429 is a decision, not a failed request.
    responseCallback: http.expectedStatuses(200, 429),
  });
  if (response.status === 429) refused.add(1);
  check(response, {
    'a decision (200 or 429)': (r) => r.status === 200 || r.status === 429,
    'rate-limit headers': (r) =>
      r.headers['X-Ratelimit-Limit'] !== undefined && r.headers.Ratelimit !== undefined,
  });
}
