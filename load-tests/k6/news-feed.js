// @ts-check
/**
 * Load test for the news-feed service (k6).
 *
 *   k6 run -e TOKEN=$(cat data/news-feed/dev-token) load-tests/k6/news-feed.js   (localhost:3005)
 *   k6 run -e BASE_URL=http://host:3005 -e TOKEN=... load-tests/k6/news-feed.js
 *
 * One signed-in user's traffic, as three scenarios running together after setup() registers the
 * token's user:
 * - `posts`: `POST /v1/posts` at POST_RATE/s (default 5); each answered 201. The service limits
 *   posts per user (POST_RATE_LIMIT per POST_RATE_WINDOW_MS, default 30 a minute): for a longer or
 *   faster run, raise it.
 * - `feeds`: `GET /v1/feed?limit=20` at FEED_RATE/s (default 500), following the cursor to the
 *   second page one time in five; p(99) under 50 ms.
 * - `timelines`: `GET /v1/users/{me}/posts?limit=20` at TIMELINE_RATE/s (default 200); p(99) under 50 ms.
 *
 * Environment: BASE_URL (default http://localhost:3005), TOKEN (required: a bearer token; the
 * embedded mode writes one for user `dev` to DATA_DIR/dev-token), FEED_USER (the token's subject,
 * default dev), DURATION (default 30s), POST_RATE, FEED_RATE, TIMELINE_RATE.
 */
import { check, fail } from 'k6';
import http from 'k6/http';
import { positiveInteger } from './lib/env.js';

const BASE_URL = (__ENV.BASE_URL || 'http://localhost:3005').replace(/\/+$/, '');
const TOKEN = __ENV.TOKEN || '';
const USER = __ENV.FEED_USER || 'dev';
const DURATION = __ENV.DURATION || '30s';
const POST_RATE = positiveInteger('POST_RATE', 5);
const FEED_RATE = positiveInteger('FEED_RATE', 500);
const TIMELINE_RATE = positiveInteger('TIMELINE_RATE', 200);

/**
 * @param {string} exec
 * @param {number} rate
 * @returns {import('k6/options').Scenario}
 */
function scenario(exec, rate) {
  return {
    executor: /** @type {const} */ ('constant-arrival-rate'),
    exec,
    rate,
    timeUnit: '1s',
    duration: DURATION,
    preAllocatedVUs: 50,
    maxVUs: 500,
  };
}

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    posts: scenario('post', POST_RATE),
    feeds: scenario('feed', FEED_RATE),
    timelines: scenario('timeline', TIMELINE_RATE),
  },
  thresholds: {
    checks: ['rate>0.99'],
    'http_req_duration{scenario:feeds}': ['p(99)<50'],
    'http_req_duration{scenario:timelines}': ['p(99)<50'],
  },
};

const authorized = () => ({
  'content-type': 'application/json',
  authorization: `Bearer ${TOKEN}`,
});

/** Registers the token's user (201 the first time, 200 after). */
export function setup() {
  if (TOKEN === '') fail('TOKEN is required (the embedded mode writes one to DATA_DIR/dev-token)');
  const response = http.post(`${BASE_URL}/v1/users`, JSON.stringify({ displayName: USER }), {
    headers: authorized(),
  });
  if (response.status !== 201 && response.status !== 200)
    fail(`setup: POST /v1/users answered ${response.status}: ${response.body}`);
}

export function post() {
  const response = http.post(`${BASE_URL}/v1/posts`, JSON.stringify({ text: `k6 at ${Date.now()}` }), {
    headers: authorized(),
  });
  check(response, { 'post answered 201': (r) => r.status === 201 });
}

export function feed() {
  const response = http.get(`${BASE_URL}/v1/feed?limit=20`, { headers: authorized() });
  check(response, { 'feed answered 200': (r) => r.status === 200 });
  if (response.status !== 200 || Math.random() >= 0.2) return;
  const cursor = /** @type {{ nextCursor: string | null }} */ (response.json()).nextCursor;
  if (cursor === null) return;
  const next = http.get(`${BASE_URL}/v1/feed?limit=20&cursor=${encodeURIComponent(cursor)}`, {
    headers: authorized(),
  });
  check(next, { 'second page answered 200': (r) => r.status === 200 });
}

export function timeline() {
  const response = http.get(`${BASE_URL}/v1/users/${USER}/posts?limit=20`, { headers: authorized() });
  check(response, { 'timeline answered 200': (r) => r.status === 200 });
}
