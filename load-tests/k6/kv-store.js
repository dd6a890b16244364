// @ts-check
/**
 * Load test for the kv-store cluster (k6): quorum writes and reads spread over its nodes.
 *
 *   k6 run load-tests/k6/kv-store.js                    (the embedded 3-node cluster of `pnpm start`)
 *   k6 run -e NODES=http://kv-1:3002,http://kv-2:3002,http://kv-3:3002 load-tests/k6/kv-store.js
 *
 * Each iteration picks a node (every node coordinates any request) and a key from a pool of KEYS,
 * reads it with R, and writes a new value with W, passing the context it read so the write
 * supersedes what it saw instead of adding a sibling. Checks: a write answers 204 with a new
 * X-Context; a read answers 200 (one version), 300 (siblings, listed as JSON) or 404 (not written
 * yet). A 503 (quorum not reached) fails the check: with every node up there should be none.
 *
 * Environment: NODES (comma-separated base URLs, default the embedded cluster), RATE (iterations
 * per second, default 200), DURATION (default 30s), KEYS (default 1000), VALUE_BYTES (default 256),
 * CONSISTENCY (one|quorum|all, default quorum).
 */
import { check, fail } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { positiveInteger } from './lib/env.js';

const NODES = (__ENV.NODES || 'http://localhost:3002,http://localhost:3021,http://localhost:3022')
  .split(',')
  .map((node) => node.trim().replace(/\/+$/, ''))
  .filter((node) => node.length > 0);
const RATE = positiveInteger('RATE', 200);
const DURATION = __ENV.DURATION || '30s';
const KEYS = positiveInteger('KEYS', 1000);
const VALUE_BYTES = positiveInteger('VALUE_BYTES', 256);
const CONSISTENCY = __ENV.CONSISTENCY || 'quorum';

if (NODES.length === 0) fail('NODES must name at least one node');
if (!['one', 'quorum', 'all'].includes(CONSISTENCY))
  fail(`CONSISTENCY must be one, quorum or all, got ${CONSISTENCY}`);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    readModifyWrite: {
      executor: 'constant-arrival-rate',
      exec: 'readModifyWrite',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: 20,
      maxVUs: 200,
    },
  },
  thresholds: {
    checks: ['rate>0.99'],
    'http_req_duration{name:GET /v1/kv/{key}}': ['p(99)<100'],
    'http_req_duration{name:PUT /v1/kv/{key}}': ['p(99)<200'],
  },
};

const padding = 'x'.repeat(VALUE_BYTES);

export function readModifyWrite() {
  const iteration = exec.scenario.iterationInTest;
  const node = NODES[iteration % NODES.length];
  const key = `k6-${iteration % KEYS}`;
  const url = `${node}/v1/kv/${key}?consistency=${CONSISTENCY}`;
  const read = http.get(url, {
    tags: { name: 'GET /v1/kv/{key}' },
    responseCallback: http.expectedStatuses(200, 300, 404),
  });
  check(read, {
    'read answered (200, 300 or 404)': (r) => r.status === 200 || r.status === 300 || r.status === 404,
  });
  const context = read.headers['X-Context'];
  /** @type {Record<string, string>} */
  const headers = { 'content-type': 'application/octet-stream' };
  if (typeof context === 'string' && context.length > 0) headers['x-context'] = context;
  const write = http.put(url, `${iteration}:${padding}`, { headers, tags: { name: 'PUT /v1/kv/{key}' } });
  check(write, {
    'write acknowledged (204)': (r) => r.status === 204,
    'write returns a context': (r) => typeof r.headers['X-Context'] === 'string',
  });
}
