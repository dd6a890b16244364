// @ts-check
/**
 * Load test for the wallet service (k6).
 *
 *   k6 run -e TOKEN=$(cat data/wallet/dev-token) load-tests/k6/wallet.js   (localhost:3012)
 *   k6 run -e BASE_URL=http://host:3012 -e TOKEN=... load-tests/k6/wallet.js
 *
 * setup() opens a bank and WALLETS wallets in EUR (each funded with 10,000,000.00 in linked batches
 * of 100), then three scenarios run together:
 * - `transfers`: `POST /v1/transfers` of 1 cent between two random wallets (low contention), at
 *   TRANSFER_RATE/s, each with an Idempotency-Key; every tenth is sent twice and the second answer
 *   must be the same transfer with `idempotent-replayed: true`. Each answered 201, p(99) under 250 ms.
 * - `hot`: the same between two of the first HOT wallets, at HOT_RATE/s: the locking mode's worst case.
 * - `reads`: `GET /v1/accounts/{id}` of a random wallet, at READ_RATE/s, p(99) under 50 ms.
 * teardown() runs `GET /v1/audit/conservation` and fails the run unless it answers ok (no money
 * created or destroyed, every counter equal to its entries).
 *
 * Environment: BASE_URL (default http://localhost:3012), TOKEN (required: a bearer token with the
 * wallet:operator scope; the embedded mode writes one to DATA_DIR/dev-token), DURATION (default
 * 30s), TRANSFER_RATE (200), HOT_RATE (50), READ_RATE (200), WALLETS (1000), HOT (10).
 */
import { check, fail } from 'k6';
import http from 'k6/http';
import { positiveInteger } from './lib/env.js';

const BASE_URL = (__ENV.BASE_URL || 'http://localhost:3012').replace(/\/+$/, '');
const TOKEN = __ENV.TOKEN || '';
const DURATION = __ENV.DURATION || '30s';
const TRANSFER_RATE = positiveInteger('TRANSFER_RATE', 200);
const HOT_RATE = positiveInteger('HOT_RATE', 50);
const READ_RATE = positiveInteger('READ_RATE', 200);
const WALLETS = positiveInteger('WALLETS', 1000);
const HOT = Math.min(positiveInteger('HOT', 10), WALLETS);
const FUNDING = '1000000000';
const BATCH = 100;

if (WALLETS < 2 || HOT < 2) fail('WALLETS and HOT must be at least 2');

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
  setupTimeout: '300s',
  scenarios: {
    transfers: scenario('transfer', TRANSFER_RATE),
    hot: scenario('hotTransfer', HOT_RATE),
    reads: scenario('read', READ_RATE),
  },
  thresholds: {
    checks: ['rate>0.99'],
    'http_req_duration{scenario:transfers}': ['p(99)<250'],
    'http_req_duration{scenario:reads}': ['p(99)<50'],
  },
};

/** @param {Record<string, string>} [extra] */
const authorized = (extra = {}) => ({
  'content-type': 'application/json',
  authorization: `Bearer ${TOKEN}`,
  ...extra,
});

/**
 * @param {string} path
 * @param {unknown} body
 */
function setupPost(path, body) {
  const response = http.post(`${BASE_URL}${path}`, JSON.stringify(body), { headers: authorized() });
  if (response.status !== 201) fail(`setup: POST ${path} answered ${response.status}: ${response.body}`);
  return /** @type {Record<string, unknown>} */ (response.json());
}

/** Opens the bank and the wallets, and funds every wallet. @returns {{ wallets: string[] }} */
export function setup() {
  if (TOKEN === '') fail('TOKEN is required (the embedded mode writes one to DATA_DIR/dev-token)');
  const run = `k6-${Date.now()}`;
  const bank = String(
    setupPost('/v1/accounts', {
      owner: `${run}-bank`,
      currency: 'EUR',
      flags: { debitsMustNotExceedCredits: false },
    }).id,
  );
  /** @type {string[]} */
  const wallets = [];
  for (let index = 0; index < WALLETS; index++) {
    wallets.push(String(setupPost('/v1/accounts', { owner: `${run}-${index}`, currency: 'EUR' }).id));
  }
  for (let start = 0; start < wallets.length; start += BATCH) {
    const transfers = wallets
      .slice(start, start + BATCH)
      .map((id) => ({ debitAccountId: bank, creditAccountId: id, amount: FUNDING, currency: 'EUR' }));
    setupPost('/v1/transfers/batch', { transfers });
  }
  return { wallets };
}

/** Two distinct random wallets among the first `count`. @param {string[]} wallets @param {number} count */
function pair(wallets, count) {
  const debit = Math.floor(Math.random() * count);
  const credit = (debit + 1 + Math.floor(Math.random() * (count - 1))) % count;
  return { debitAccountId: wallets[debit], creditAccountId: wallets[credit], amount: '1', currency: 'EUR' };
}

/** @param {string[]} wallets @param {number} count */
function send(wallets, count) {
  const key = `k6-${__VU}-${__ITER}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const body = JSON.stringify(pair(wallets, count));
  const params = {
    headers: authorized({ 'idempotency-key': key }),
    tags: { name: 'POST /v1/transfers' },
  };
  const response = http.post(`${BASE_URL}/v1/transfers`, body, params);
  check(response, { 'transfer 201': (r) => r.status === 201 });
  if (response.status !== 201 || Math.random() >= 0.1) return;
  const retry = http.post(`${BASE_URL}/v1/transfers`, body, params);
  check(retry, {
    'retry replays the same transfer': (r) =>
      r.status === 201 &&
      r.headers['Idempotent-Replayed'] === 'true' &&
      /** @type {{ id: string }} */ (r.json()).id === /** @type {{ id: string }} */ (response.json()).id,
  });
}

/** @param {{ wallets: string[] }} data */
export function transfer(data) {
  send(data.wallets, data.wallets.length);
}

/** @param {{ wallets: string[] }} data */
export function hotTransfer(data) {
  send(data.wallets, HOT);
}

/** @param {{ wallets: string[] }} data */
export function read(data) {
  const id = data.wallets[Math.floor(Math.random() * data.wallets.length)];
  const response = http.get(`${BASE_URL}/v1/accounts/${id}`, {
    headers: authorized(),
    tags: { name: 'GET /v1/accounts/{id}' },
  });
  check(response, { 'account 200': (r) => r.status === 200 });
}

/** Fails the run unless the ledger still balances. */
export function teardown() {
  const response = http.get(`${BASE_URL}/v1/audit/conservation`, { headers: authorized() });
  const ok = check(response, {
    'conservation ok': (r) => r.status === 200 && /** @type {{ ok: boolean }} */ (r.json()).ok === true,
  });
  if (!ok) fail(`GET /v1/audit/conservation: ${response.status} ${response.body}`);
}
