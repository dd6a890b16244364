import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createLogger, loadConfig, type ServiceApp, TokenAuthority } from '@sysdesign/platform';
import WebSocket from 'ws';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';
import { startBaseline } from './baseline.js';

/**
 * `pnpm --filter @sysdesign/chat bench`: messages/s delivered and delivery latency with CLIENTS
 * sockets in CHANNELS channels across two chat instances (Redis rooms when REDIS_URL is set,
 * Postgres at DATABASE_URL else PGlite), beside a bare Fastify WebSocket relay under the same
 * load in the same run; then IDLE sockets held open by a separate process, with the server's
 * memory per socket. Writes load-tests/results/chat.md.
 *
 *   CLIENTS=1000 CHANNELS=100 MESSAGES=20 IDLE=10000 pnpm --filter @sysdesign/chat bench
 */

const CLIENTS = Number(process.env.CLIENTS ?? 1_000);
const CHANNELS = Number(process.env.CHANNELS ?? 100);
const MESSAGES = Number(process.env.MESSAGES ?? 20);
const IDLE = Number(process.env.IDLE ?? 10_000);
const SECRET = 'chat-bench-secret-of-at-least-32-bytes!!';
const RESULTS = fileURLToPath(new URL('../../../load-tests/results/chat.md', import.meta.url));
const authority = new TokenAuthority({ secret: SECRET });
const dataDirs: string[] = [];

interface LoadResult {
  name: string;
  delivered: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * One sender per channel sends MESSAGES messages, one in flight at a time; every member
 * (sender included) records when each message reached it.
 */
async function runLoad(
  name: string,
  urls: string[],
  socketUrl: (user: number, channel: number) => Promise<{ url: string; headers: Record<string, string> }>,
  channelIds: string[],
): Promise<LoadResult> {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const expected = CHANNELS * MESSAGES * (CLIENTS / CHANNELS);
  let delivered = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const sockets: WebSocket[] = [];
  const acks = new Map<WebSocket, () => void>();
  const perChannel = CLIENTS / CHANNELS;
  for (let user = 0; user < CLIENTS; user += 1) {
    const channel = Math.floor(user / perChannel);
    const target = await socketUrl(user, channel);
    const socket = new WebSocket(target.url.replace('{base}', urls[user % urls.length]!), ['chat.v1'], {
      headers: target.headers,
    });
    sockets.push(socket);
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; message?: { clientMsgId: string } };
      if (frame.type === 'ack') acks.get(socket)?.();
      if (frame.type !== 'deliver' || !frame.message) return;
      const at = sentAt.get(frame.message.clientMsgId);
      if (at !== undefined) latencies.push(performance.now() - at);
      delivered += 1;
      if (delivered === expected) finish();
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('message', () => resolve());
      socket.once('error', reject);
    });
  }
  const started = performance.now();
  await Promise.all(
    channelIds.map(async (channelId, channel) => {
      const socket = sockets[channel * perChannel]!;
      for (let index = 0; index < MESSAGES; index += 1) {
        const clientMsgId = `${channel}-${index}`;
        const acked = new Promise<void>((resolve) => acks.set(socket, resolve));
        sentAt.set(clientMsgId, performance.now());
        socket.send(
          JSON.stringify({ type: 'send', channelId, clientMsgId, body: `message ${index} of ${channel}` }),
        );
        await acked;
      }
    }),
  );
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 60_000))]);
  const seconds = (performance.now() - started) / 1_000;
  for (const socket of sockets) socket.terminate();
  latencies.sort((a, b) => a - b);
  return { name, delivered, seconds, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99) };
}

async function startChat(
  schema: string,
  extra: Record<string, string>,
): Promise<{ app: ServiceApp; url: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'chat-bench-'));
  dataDirs.push(dataDir);
  const config = loadConfig(configSchema, {
    LOG_LEVEL: 'warn',
    AUTH_SECRET: SECRET,
    DATA_DIR: dataDir,
    PGLITE_DIR: 'memory',
    USER_MESSAGE_LIMIT: '100000',
    FRAMES_PER_SECOND: '10000',
    IDLE_TIMEOUT_MS: '3600000',
    CONNECTIONS_MAX: String(IDLE + CLIENTS + 100),
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    ...(process.env.REDIS_URL
      ? { REDIS_URL: process.env.REDIS_URL, REDIS_KEY_PREFIX: `bench:${schema}:` }
      : {}),
    ...extra,
  });
  const app = await buildService(config, { logger: createLogger('warn'), sqlSchema: schema });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: address.replace(/^http/, 'ws') };
}

async function createChannels(app: ServiceApp): Promise<string[]> {
  const perChannel = CLIENTS / CHANNELS;
  const ids: string[] = [];
  for (let channel = 0; channel < CHANNELS; channel += 1) {
    const owner = `u${channel * perChannel}`;
    const members = Array.from(
      { length: perChannel - 1 },
      (_, index) => `u${channel * perChannel + index + 1}`,
    );
    const response = await app.inject({
      method: 'POST',
      url: '/v1/channels',
      headers: { authorization: `Bearer ${await authority.issue(owner, { ttlSeconds: 3_600 })}` },
      payload: { kind: 'group', name: `bench ${channel}`, members },
    });
    ids.push((response.json() as { id: string }).id);
  }
  return ids;
}

/** Opens IDLE sockets from a child process and reads this (server) process's memory before and after. */
async function holdIdle(
  url: string,
): Promise<{ held: number; rssPerSocketKb: number; heapPerSocketKb: number; openSeconds: number }> {
  global.gc?.();
  const before = process.memoryUsage();
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@sysdesign/source',
      fileURLToPath(new URL('./idle-clients.ts', import.meta.url)),
      url,
      String(IDLE),
      SECRET,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const held = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /open (\d+)/.exec(chunk.toString());
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`idle client process exited ${code}`)));
  });
  const openSeconds = (performance.now() - started) / 1_000;
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  global.gc?.();
  const after = process.memoryUsage();
  child.stdin.write('close\n');
  await new Promise((resolve) => child.once('exit', resolve));
  return {
    held,
    rssPerSocketKb: (after.rss - before.rss) / held / 1_024,
    heapPerSocketKb: (after.heapUsed + after.external - before.heapUsed - before.external) / held / 1_024,
    openSeconds,
  };
}

const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

process.env.NODE_ENV = 'production';
const schema = `bench_chat_${Date.now().toString(36)}`;
const baseline = await startBaseline();
const perChannel = CLIENTS / CHANNELS;
const baseChannels = Array.from({ length: CHANNELS }, (_, channel) => `c${channel}`);
const baselineResult = await runLoad(
  'bare Fastify WebSocket relay (1 process, memory)',
  [baseline.url],
  async (user) => ({ url: `{base}/v1/socket?channels=c${Math.floor(user / perChannel)}`, headers: {} }),
  baseChannels,
);
await baseline.app.close();

const one = await startChat(schema, {});
const two = process.env.REDIS_URL ? await startChat(schema, {}) : undefined;
const channelIds = await createChannels(one.app);
const tokens = new Map<number, string>();
for (let user = 0; user < CLIENTS; user += 1)
  tokens.set(user, await authority.issue(`u${user}`, { ttlSeconds: 3_600 }));
const chatResult = await runLoad(
  two ? 'chat, 2 instances, Redis rooms' : 'chat, 1 instance (no REDIS_URL)',
  two ? [one.url, two.url] : [one.url],
  async (user) => ({ url: '{base}/v1/socket', headers: { authorization: `Bearer ${tokens.get(user)}` } }),
  channelIds,
);
await two?.app.close();
const idle = IDLE > 0 ? await holdIdle(one.url) : undefined;
await one.app.close();
if (process.env.DATABASE_URL) {
  const pg = await import('pg');
  const client = new pg.default.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
}

const rows = [baselineResult, chatResult].map(
  (result) =>
    `| ${result.name} | ${result.delivered} | ${fmt(result.delivered / result.seconds, 0)} | ${fmt(result.p50Ms)} | ${fmt(result.p99Ms)} | ${fmt(result.delivered / result.seconds / (baselineResult.delivered / baselineResult.seconds), 2)} |`,
);
const report = [
  '# chat benchmark',
  '',
  `${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores (shared), ${process.env.DATABASE_URL ? 'Postgres' : 'PGlite'}${process.env.REDIS_URL ? ', Redis' : ''}.`,
  `${CLIENTS} sockets in ${CHANNELS} channels of ${perChannel}; one sender per channel, ${MESSAGES} messages each, one in flight; clients in the bench process.`,
  '',
  '| run | deliveries | deliveries/s | p50 ms | p99 ms | ratio to baseline |',
  '|---|---|---|---|---|---|',
  ...rows,
  '',
  ...(idle
    ? [
        `Idle sockets held from a separate process: ${idle.held} opened in ${fmt(idle.openSeconds)} s; server memory per socket: ${fmt(idle.rssPerSocketKb)} KiB RSS, ${fmt(idle.heapPerSocketKb)} KiB heap+external.`,
        '',
      ]
    : []),
].join('\n');
console.log(report);
await mkdir(join(RESULTS, '..'), { recursive: true });
await writeFile(RESULTS, report);
for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
process.exit(0);
