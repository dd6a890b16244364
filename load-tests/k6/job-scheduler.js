// @ts-check
/**
 * Load test for the job-scheduler service (k6).
 *
 *   k6 run -e TOKEN="$(cat data/job-scheduler/dev-token)" load-tests/k6/job-scheduler.js
 *   k6 run -e BASE_URL=http://host:3010 -e TOKEN=... load-tests/k6/job-scheduler.js
 *
 * Producers and pull workers running together on one queue, as the design's informer-worker model:
 * - `submit`: `POST /v1/jobs` at a constant SUBMIT_RATE per second, each answered 201.
 * - `work`: pull workers in a loop: lease up to 8 jobs, complete each with its fencing token
 *   (answered 200); an empty lease waits 50 ms. A 409 on completion would mean a lease was lost.
 * Thresholds: submissions p(99) < 100 ms, no failed checks, and no stale-token refusals.
 *
 * Environment: BASE_URL (default http://localhost:3010), TOKEN (a bearer token with the scopes
 * jobs:write and jobs:work; the embedded mode writes one to DATA_DIR/dev-token), QUEUE (default
 * `default`, one of the service's QUEUES), DURATION (default 30s), SUBMIT_RATE (default 200),
 * WORKERS (default 8).
 */
import { check, fail, sleep } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { positiveInteger } from './lib/env.js';

const BASE_URL = (__ENV.BASE_URL || 'http://localhost:3010').replace(/\/+$/, '');
const TOKEN = __ENV.TOKEN || '';
const QUEUE = __ENV.QUEUE || 'default';
const DURATION = __ENV.DURATION || '30s';
const SUBMIT_RATE = positiveInteger('SUBMIT_RATE', 200);
const WORKERS = positiveInteger('WORKERS', 8);

const fencedCompletions = new Counter('fenced_completions');

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    submit: {
      executor: 'constant-arrival-rate',
      exec: 'submit',
      rate: SUBMIT_RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: 20,
      maxVUs: 200,
    },
    work: {
      executor: 'constant-vus',
      exec: 'work',
      vus: WORKERS,
      duration: DURATION,
    },
  },
  thresholds: {
    'http_req_duration{name:submit}': ['p(99)<100'],
    checks: ['rate==1'],
    fenced_completions: ['count==0'],
  },
};

const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

export function setup() {
  if (TOKEN === '') fail('TOKEN must be a bearer token with the scopes jobs:write and jobs:work');
  const stats = http.get(`${BASE_URL}/v1/queues/${QUEUE}/stats`);
  if (stats.status !== 200) fail(`queue ${QUEUE}: ${stats.status} ${stats.body}`);
}

export function submit() {
  const response = http.post(
    `${BASE_URL}/v1/jobs`,
    JSON.stringify({ queue: QUEUE, payload: { at: Date.now() } }),
    {
      headers,
      tags: { name: 'submit' },
    },
  );
  check(response, { 'submit answered 201': (r) => r.status === 201 });
}

export function work() {
  const leased = http.post(
    `${BASE_URL}/v1/queues/${QUEUE}/lease`,
    JSON.stringify({ limit: 8, leaseMs: 30000, worker: `k6-${__VU}` }),
    { headers, tags: { name: 'lease' } },
  );
  if (!check(leased, { 'lease answered 200': (r) => r.status === 200 })) return;
  /** @type {{ id: string, fence: string }[]} */
  const jobs = /** @type {{ id: string, fence: string }[]} */ (
    /** @type {unknown} */ (leased.json('jobs') || [])
  );
  if (jobs.length === 0) {
    sleep(0.05);
    return;
  }
  for (const job of jobs) {
    const done = http.post(
      `${BASE_URL}/v1/jobs/${job.id}/complete`,
      JSON.stringify({ fence: job.fence, output: null }),
      {
        headers,
        tags: { name: 'complete' },
      },
    );
    if (done.status === 409) fencedCompletions.add(1);
    check(done, { 'complete answered 200': (r) => r.status === 200 });
  }
}
