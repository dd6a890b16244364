// @ts-check
/**
 * Load test for the id-generator service (k6).
 *
 *   k6 run load-tests/k6/id-generator.js                          (service on localhost:3003)
 *   k6 run -e BASE_URL=http://host:3003 load-tests/k6/id-generator.js
 *   docker compose --profile load run --rm k6                       (compose runs this script)
 *
 * Two scenarios, one after the other so each one's latency is its own:
 * - `single`: `GET /v1/ids?count=1` at a constant 2000 requests/s (one id per request: the per-request
 *   overhead dominates), with p(99) under 50 ms.
 * - `batch`: `GET /v1/ids?count=1000` at a constant 200 requests/s (200,000 ids/s: generation and
 *   serialization dominate).
 *
 * Every response is checked: status 200, as many ids as asked for, each a decimal string, strictly
 * increasing within the response. The ordering check needs a numeric strategy (snowflake, sonyflake,
 * ticket, multi-master), which the service uses by default.
 *
 * Environment: BASE_URL (default http://localhost:3003), STRATEGY (default: the service's own),
 * DURATION (per scenario, default 30s), SINGLE_RATE (default 2000), BATCH_RATE (default 200),
 * BATCH_COUNT (default 1000).
 */
import { check } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { positiveInteger } from './lib/env.js';

const BASE_URL = (__ENV.BASE_URL || 'http://localhost:3003').replace(/\/+$/, '');
const STRATEGY = __ENV.STRATEGY || '';
const DURATION = __ENV.DURATION || '30s';
const SINGLE_RATE = positiveInteger('SINGLE_RATE', 2000);
const BATCH_RATE = positiveInteger('BATCH_RATE', 200);
const BATCH_COUNT = positiveInteger('BATCH_COUNT', 1000);

/** Every id received and checked, so the summary shows ids/s as well as requests/s. */
const idsReceived = new Counter('ids_received');

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    single: {
      executor: 'constant-arrival-rate',
      exec: 'singleId',
      rate: SINGLE_RATE,
      timeUnit: '1s',
      duration: DURATION,
      // At 2000/s and a few ms per request, ~20 VUs are busy; the rest absorb latency spikes.
      preAllocatedVUs: 50,
      maxVUs: 500,
    },
    batch: {
      executor: 'constant-arrival-rate',
      exec: 'batchIds',
      startTime: DURATION,
      rate: BATCH_RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: 20,
      maxVUs: 200,
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    'http_req_duration{scenario:single}': ['p(99)<50'],
    // Requests k6 could not start on time (not enough VUs) would make the rate a lie.
    'dropped_iterations{scenario:single}': [`count<${Math.ceil(SINGLE_RATE * 0.01)}`],
  },
};

export function singleId() {
  fetchAndCheckIds(1);
}

export function batchIds() {
  fetchAndCheckIds(BATCH_COUNT);
}

/** @param {number} count */
function fetchAndCheckIds(count) {
  const strategyParam = STRATEGY ? `&strategy=${encodeURIComponent(STRATEGY)}` : '';
  const response = http.get(`${BASE_URL}/v1/ids?count=${count}${strategyParam}`, {
    // One metric series per endpoint shape, whatever the query.
    tags: { name: `GET /v1/ids?count=${count}` },
  });
  const ids = idsOf(response);
  check(response, {
    'status is 200': (r) => r.status === 200,
    'ids length matches count': () => ids !== null && ids.length === count,
    'ids are decimal strings, strictly increasing': () => ids !== null && areIncreasingDecimals(ids),
  });
  if (ids !== null) idsReceived.add(ids.length);
}

/**
 * The `ids` array of a response body, or null when the body is not `{"ids": [...strings]}`.
 * @param {import('k6/http').Response} response
 * @returns {string[] | null}
 */
function idsOf(response) {
  /** @type {import('k6').JSONValue} */
  let body;
  try {
    body = response.json();
  } catch (_error) {
    return null;
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return null;
  const ids = body.ids;
  if (!Array.isArray(ids)) return null;
  /** @type {string[]} */
  const strings = [];
  for (const id of ids) {
    if (typeof id !== 'string') return null;
    strings.push(id);
  }
  return strings;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/**
 * True when every id is a canonical decimal string and each is greater than the one before. Compared as
 * strings (length first), because 64-bit ids do not fit a JavaScript number.
 * @param {string[]} ids
 */
function areIncreasingDecimals(ids) {
  for (let index = 0; index < ids.length; index++) {
    const id = ids[index];
    if (id === undefined || !DECIMAL.test(id)) return false;
    const previous = index > 0 ? ids[index - 1] : undefined;
    if (previous !== undefined && !isGreaterDecimal(id, previous)) return false;
  }
  return true;
}

/**
 * @param {string} left
 * @param {string} right
 */
function isGreaterDecimal(left, right) {
  if (left.length !== right.length) return left.length > right.length;
  return left > right;
}
