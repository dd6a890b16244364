// @ts-check
/**
 * Load test for the url-shortener service (k6).
 *
 *   k6 run load-tests/k6/url-shortener.js                          (service on localhost:3004)
 *   k6 run -e BASE_URL=http://host:3004 load-tests/k6/url-shortener.js
 *
 * The design's read/write ratio, as two scenarios running together:
 * - `redirects`: `GET /{code}` over a pool of links made in setup(), at a constant 2000/s. Redirects
 *   are not followed: each answer must be the 302 (or 301) with the link's URL in Location.
 *   p(99) under 25 ms: redirects are served from the cache.
 * - `creations`: `POST /v1/urls` with a fresh URL each time, at a constant 20/s (1:100), each
 *   answered 201 with a code and a short URL.
 *
 * Environment: BASE_URL (default http://localhost:3004), DURATION (default 30s), REDIRECT_RATE
 * (default 2000), CREATE_RATE (default 20), LINKS (links made in setup, default 100).
 * Creation is rate limited per client by the service: raise its limit or lower CREATE_RATE if
 * creations start answering 429.
 */
import { check, fail } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { positiveInteger } from './lib/env.js';

const BASE_URL = (__ENV.BASE_URL || 'http://localhost:3004').replace(/\/+$/, '');
const DURATION = __ENV.DURATION || '30s';
const REDIRECT_RATE = positiveInteger('REDIRECT_RATE', 2000);
const CREATE_RATE = positiveInteger('CREATE_RATE', 20);
const LINKS = positiveInteger('LINKS', 100);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    redirects: {
      executor: 'constant-arrival-rate',
      exec: 'redirect',
      rate: REDIRECT_RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: 50,
      maxVUs: 500,
    },
    creations: {
      executor: 'constant-arrival-rate',
      exec: 'create',
      rate: CREATE_RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: 5,
      maxVUs: 50,
    },
  },
  thresholds: {
    checks: ['rate>0.99'],
    'http_req_duration{scenario:redirects}': ['p(99)<25'],
    'dropped_iterations{scenario:redirects}': [`count<${Math.ceil(REDIRECT_RATE * 0.01)}`],
  },
};

/**
 * Makes the pool of links the redirect scenario cycles through.
 * @returns {{ links: { code: string, url: string }[] }}
 */
export function setup() {
  /** @type {{ code: string, url: string }[]} */
  const links = [];
  for (let index = 0; index < LINKS; index += 1) {
    const url = `https://example.com/k6/${Date.now()}/${index}`;
    const response = http.post(`${BASE_URL}/v1/urls`, JSON.stringify({ url }), {
      headers: { 'content-type': 'application/json' },
    });
    const code = stringField(response, 'code');
    if ((response.status !== 201 && response.status !== 200) || code === null) {
      fail(`setup: POST /v1/urls answered ${response.status}: ${response.body}`);
    }
    links.push({ code: /** @type {string} */ (code), url });
  }
  return { links };
}

/** @param {{ links: { code: string, url: string }[] }} data */
export function redirect(data) {
  const link = data.links[exec.scenario.iterationInTest % data.links.length];
  if (!link) return;
  const response = http.get(`${BASE_URL}/${link.code}`, {
    redirects: 0,
    tags: { name: 'GET /{code}' },
    headers: { referer: 'https://k6.io/', 'user-agent': 'Mozilla/5.0 (k6) Chrome/120' },
  });
  check(response, {
    'redirect status': (r) => r.status === 302 || r.status === 301,
    'location is the link': (r) => r.headers.Location === link.url,
  });
}

export function create() {
  const url = `https://example.com/k6/created/${exec.scenario.iterationInTest}/${Date.now()}`;
  const response = http.post(`${BASE_URL}/v1/urls`, JSON.stringify({ url }), {
    headers: { 'content-type': 'application/json' },
    tags: { name: 'POST /v1/urls' },
  });
  check(response, {
    'created 201': (r) => r.status === 201,
    'has a short URL': (r) => (stringField(r, 'shortUrl') ?? '').startsWith('http'),
  });
}

/**
 * A string field of a JSON response body, or null.
 * @param {import('k6/http').Response} response
 * @param {string} field
 * @returns {string | null}
 */
function stringField(response, field) {
  /** @type {import('k6').JSONValue} */
  let body;
  try {
    body = response.json();
  } catch (_error) {
    return null;
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  const value = body[field];
  return typeof value === 'string' ? value : null;
}
