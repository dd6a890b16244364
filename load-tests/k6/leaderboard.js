// @ts-check
/**
 * Load test for the leaderboard service (k6).
 *
 *   k6 run -e TOKEN=$(cat data/leaderboard/dev-token) load-tests/k6/leaderboard.js   (localhost:3011)
 *   k6 run -e BASE_URL=http://host:3011 -e TOKEN=... load-tests/k6/leaderboard.js
 *
 * A game's traffic, as three scenarios running together on one board made in setup():
 * - `scores`: `POST /v1/boards/{board}/scores` from the game server (a token with the
 *   leaderboard:write scope) for random players, at a constant 500/s; each answered 200.
 * - `ranks`: `GET /v1/boards/{board}/players/{player}` for random players, at 1000/s; 200 once the
 *   player has a score (404 before), p(99) under 25 ms.
 * - `tops`: `GET /v1/boards/{board}/top?limit=10`, at 500/s, p(99) under 25 ms.
 *
 * Environment: BASE_URL (default http://localhost:3011), TOKEN (required: a bearer token with the
 * leaderboard:write and leaderboard:admin scopes; the embedded mode writes one to
 * DATA_DIR/dev-token), DURATION (default 30s), SCORE_RATE (500), RANK_RATE (1000), TOP_RATE (500),
 * PLAYERS (10000). The service limits submissions per player (PLAYER_RATE_LIMIT): with few players
 * and a high SCORE_RATE, raise it.
 */
import { check, fail } from 'k6';
import http from 'k6/http';
import { positiveInteger } from './lib/env.js';

const BASE_URL = (__ENV.BASE_URL || 'http://localhost:3011').replace(/\/+$/, '');
const TOKEN = __ENV.TOKEN || '';
const DURATION = __ENV.DURATION || '30s';
const SCORE_RATE = positiveInteger('SCORE_RATE', 500);
const RANK_RATE = positiveInteger('RANK_RATE', 1000);
const TOP_RATE = positiveInteger('TOP_RATE', 500);
const PLAYERS = positiveInteger('PLAYERS', 10000);

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
    scores: scenario('score', SCORE_RATE),
    ranks: scenario('rank', RANK_RATE),
    tops: scenario('top', TOP_RATE),
  },
  thresholds: {
    checks: ['rate>0.99'],
    'http_req_duration{scenario:ranks}': ['p(99)<25'],
    'http_req_duration{scenario:tops}': ['p(99)<25'],
  },
};

const authorized = () => ({
  'content-type': 'application/json',
  authorization: `Bearer ${TOKEN}`,
});

/** Makes the board the scenarios share. @returns {{ board: string }} */
export function setup() {
  if (TOKEN === '') fail('TOKEN is required (the embedded mode writes one to DATA_DIR/dev-token)');
  const board = `k6-${Date.now()}`;
  const response = http.post(
    `${BASE_URL}/v1/boards`,
    JSON.stringify({ id: board, operator: 'best', ranking: 'competition' }),
    { headers: authorized() },
  );
  if (response.status !== 201) fail(`setup: POST /v1/boards answered ${response.status}: ${response.body}`);
  return { board };
}

const randomPlayer = () => `p${Math.floor(Math.random() * PLAYERS)}`;

/** @param {{ board: string }} data */
export function score(data) {
  const response = http.post(
    `${BASE_URL}/v1/boards/${data.board}/scores`,
    JSON.stringify({ player: randomPlayer(), score: Math.floor(Math.random() * 1_000_000) }),
    { headers: authorized(), tags: { name: 'POST /v1/boards/{board}/scores' } },
  );
  check(response, { 'score 200': (r) => r.status === 200 });
}

/** @param {{ board: string }} data */
export function rank(data) {
  const response = http.get(`${BASE_URL}/v1/boards/${data.board}/players/${randomPlayer()}`, {
    tags: { name: 'GET /v1/boards/{board}/players/{player}' },
    responseCallback: http.expectedStatuses(200, 404),
  });
  check(response, { 'rank 200 or 404': (r) => r.status === 200 || r.status === 404 });
}

/** @param {{ board: string }} data */
export function top(data) {
  const response = http.get(`${BASE_URL}/v1/boards/${data.board}/top?limit=10`, {
    tags: { name: 'GET /v1/boards/{board}/top' },
  });
  check(response, { 'top 200': (r) => r.status === 200 });
}
