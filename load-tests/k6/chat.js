// @ts-check
/**
 * Load test for the chat service's WebSocket (k6, `k6/websockets`).
 *
 *   k6 run load-tests/k6/chat.js                                  (embedded `pnpm start`, localhost:3006)
 *   k6 run -e BASE_URL=http://host:3006 -e USERS=1000 -e CHANNELS=100 load-tests/k6/chat.js
 *
 * setup() takes a token for each of USERS demo users (`POST /v1/demo/login`: the embedded mode
 * only, from the same machine; a deployment with AUTH_SECRET set has no demo login) and makes
 * CHANNELS groups, user i in
 * group i % CHANNELS. Then one VU per user holds a socket (`chat.v1`, token in the Authorization
 * header) for DURATION: it sends a message to its group every SEND_INTERVAL_MS with a fresh client
 * message id, acks every `deliver` after dropping repeats by `seq`, and records how long each
 * message took from its sender's send to this receiver (the send time travels in the body; all
 * VUs share one clock). Every send must be acked; error frames are counted and fail the run.
 *
 * Environment: BASE_URL (default http://localhost:3006), USERS (100), CHANNELS (10), DURATION
 * (30s), SEND_INTERVAL_MS (1000; the service's USER_MESSAGE_LIMIT is 20 per second per user).
 * USERS above the service's GROUP_MEMBERS_MAX times CHANNELS cannot be placed.
 */
import { check, fail } from 'k6';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import { clearInterval, setInterval, setTimeout } from 'k6/timers';
import { WebSocket } from 'k6/websockets';
import { positiveInteger } from './lib/env.js';

const BASE_URL = (__ENV.BASE_URL || 'http://localhost:3006').replace(/\/+$/, '');
const WS_URL = BASE_URL.replace(/^http/, 'ws');
const USERS = positiveInteger('USERS', 100);
const CHANNELS = positiveInteger('CHANNELS', 10);
const DURATION = __ENV.DURATION || '30s';
const SEND_INTERVAL_MS = positiveInteger('SEND_INTERVAL_MS', 1000);

const deliveryMs = new Trend('chat_delivery_ms', true);
const deliveries = new Counter('chat_deliveries');
const sends = new Counter('chat_sends');
const acks = new Counter('chat_acks');
const repeats = new Counter('chat_repeats');
const errorFrames = new Counter('chat_error_frames');

/** `30s`, `2m`, `1h` as milliseconds. @param {string} text @returns {number} */
function durationMs(text) {
  const match = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!match) fail(`DURATION must look like 30s, 2m or 1h, got ${text}`);
  const [, amount, unit] = /** @type {RegExpExecArray} */ (match);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[/** @type {'ms' | 's' | 'm' | 'h'} */ (unit)];
  return Number(amount) * scale;
}
const HOLD_MS = durationMs(DURATION);

/** @type {import('k6/options').Options} */
export const options = {
  setupTimeout: '5m',
  scenarios: {
    chatters: {
      executor: 'per-vu-iterations',
      vus: USERS,
      iterations: 1,
      maxDuration: `${Math.ceil(HOLD_MS / 1000) + 60}s`,
    },
  },
  thresholds: {
    checks: ['rate>0.99'],
    chat_error_frames: ['count==0'],
    chat_delivery_ms: ['p(99)<1000'],
  },
};

/** @param {string} token */
const authorized = (token) => ({ 'content-type': 'application/json', authorization: `Bearer ${token}` });

/** Tokens for every user and their groups. @returns {{ tokens: string[] }} */
export function setup() {
  if (USERS < 2 * CHANNELS) fail('USERS must be at least twice CHANNELS (a group has two members or more)');
  const run = Date.now().toString(36);
  /** @type {string[]} */
  const tokens = [];
  for (let index = 0; index < USERS; index += 1) {
    const response = http.post(
      `${BASE_URL}/v1/demo/login`,
      JSON.stringify({ userId: `k6-${run}-${index}` }),
      {
        headers: { 'content-type': 'application/json' },
      },
    );
    if (response.status !== 200)
      fail(`setup: POST /v1/demo/login answered ${response.status} (embedded mode only): ${response.body}`);
    tokens.push(/** @type {{ token: string }} */ (response.json()).token);
  }
  for (let channel = 0; channel < CHANNELS; channel += 1) {
    /** @type {string[]} */
    const members = [];
    for (let index = channel + CHANNELS; index < USERS; index += CHANNELS) members.push(`k6-${run}-${index}`);
    const response = http.post(
      `${BASE_URL}/v1/channels`,
      JSON.stringify({ kind: 'group', name: `k6 ${run} ${channel}`, members }),
      { headers: authorized(/** @type {string} */ (tokens[channel])) },
    );
    if (response.status !== 201)
      fail(`setup: POST /v1/channels answered ${response.status}: ${response.body}`);
  }
  return { tokens };
}

/** One user: a socket held for DURATION, sending, acking and timing deliveries. @param {{ tokens: string[] }} data */
export default function chatter(data) {
  const token = /** @type {string} */ (data.tokens[(__VU - 1) % data.tokens.length]);
  const socket = new WebSocket(`${WS_URL}/v1/socket?device=k6`, null, { headers: authorized(token) });
  /** @type {Map<string, number>} highest seq seen per channel */
  const seen = new Map();
  /** @type {Set<string>} client message ids sent and not yet acked */
  const unacked = new Set();
  /** @type {string | undefined} */
  let channelId;
  let sent = 0;
  /** @type {import('k6/timers').IntervalID | undefined} */
  let sender;

  socket.onmessage = (event) => {
    const frame = JSON.parse(String(event?.data));
    if (frame.type === 'hello') {
      channelId = frame.channels[0]?.channelId;
      check(channelId, { 'hello names the group': (id) => id !== undefined });
      for (const cursor of frame.channels) seen.set(cursor.channelId, cursor.lastSeq);
      sender = setInterval(() => {
        if (channelId === undefined) return;
        sent += 1;
        const clientMsgId = `k6-${__VU}-${sent}`;
        unacked.add(clientMsgId);
        sends.add(1);
        socket.send(JSON.stringify({ type: 'send', channelId, clientMsgId, body: `t:${Date.now()}` }));
      }, SEND_INTERVAL_MS);
    } else if (frame.type === 'deliver') {
      const { message } = frame;
      if (message.seq <= (seen.get(message.channelId) ?? 0)) {
        repeats.add(1);
        return;
      }
      seen.set(message.channelId, message.seq);
      deliveries.add(1);
      const sentAt = Number(String(message.body).slice(2));
      if (Number.isFinite(sentAt)) deliveryMs.add(Date.now() - sentAt);
      socket.send(JSON.stringify({ type: 'ack', channelId: message.channelId, seq: message.seq }));
    } else if (frame.type === 'ack') {
      if (unacked.delete(frame.clientMsgId)) acks.add(1);
    } else if (frame.type === 'error') {
      errorFrames.add(1, { code: frame.code });
    }
  };
  socket.onerror = (event) => {
    check(event, { 'the socket had no error': () => false });
  };
  socket.onopen = () => {
    setTimeout(() => {
      if (sender !== undefined) clearInterval(sender);
      // Acks of the last sends are given a moment before the socket closes.
      setTimeout(() => {
        check(unacked, { 'every send was acked': (pending) => pending.size === 0 });
        socket.close();
      }, 2_000);
    }, HOLD_MS);
  };
}
