import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, loadConfig, type ServiceApp, TokenAuthority } from '@sysdesign/platform';
import { deleteRedisPrefix, dropSchema, freshRedisPrefix, freshSchemaName } from '@sysdesign/testkit';
import pg from 'pg';
import WebSocket from 'ws';
import { configSchema } from '../src/config.js';
import type { ServerFrame } from '../src/domain/protocol.js';
import { type BuildOptions, buildService } from '../src/service.js';

export const TEST_AUTH_SECRET = 'chat-test-secret-of-at-least-32-bytes!!';
const authority = new TokenAuthority({ secret: TEST_AUTH_SECRET });

export async function tokenFor(userId: string): Promise<string> {
  return authority.issue(userId, { ttlSeconds: 3_600 });
}

export async function authHeaders(userId: string): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await tokenFor(userId)}` };
}

export interface Deployment {
  /** Environment shared by every instance: the same schema and (with Redis) the same key prefix. */
  env: Record<string, string>;
  schema: string;
  dataDirs: string[];
  apps: ServiceApp[];
  start(
    extra?: Record<string, string>,
    options?: Partial<BuildOptions>,
  ): Promise<{ app: ServiceApp; url: string }>;
  close(): Promise<void>;
}

/**
 * Instances of the chat sharing one database schema (Postgres at DATABASE_URL, else PGlite in
 * memory for a single instance) and, when `redis` is given, one Redis key prefix.
 */
export function deployment(
  options: { redisUrl?: string | undefined; env?: Record<string, string>; databaseUrl?: string } = {},
): Deployment {
  // A database of its own (for instances in other processes, which cannot be told a schema) uses the service's.
  const schema = options.databaseUrl ? 'chat' : freshSchemaName('chat');
  const prefix = freshRedisPrefix('chat');
  const env: Record<string, string> = {
    LOG_LEVEL: process.env.CHAT_TEST_LOG === '1' ? 'warn' : 'silent',
    AUTH_SECRET: TEST_AUTH_SECRET,
    PGLITE_DIR: 'memory',
    HOST: '127.0.0.1',
    PORT: '0',
    PRESENCE_GRACE_MS: '50',
    ACK_FLUSH_MS: '20',
    WORKER_LEASE_TTL_MS: '5000',
    // Tests send in bursts; the per-user limit has its own test.
    USER_MESSAGE_LIMIT: '100000',
    FRAMES_PER_SECOND: '10000',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl, REDIS_KEY_PREFIX: prefix } : {}),
    ...options.env,
  };
  const dataDirs: string[] = [];
  const apps: ServiceApp[] = [];
  return {
    env,
    schema,
    dataDirs,
    apps,
    async start(extra = {}, buildOptions = {}) {
      const dataDir = await mkdtemp(join(tmpdir(), 'chat-test-'));
      dataDirs.push(dataDir);
      // An empty value in `extra` removes the variable (an instance without Redis, say).
      const merged: Record<string, string> = { ...env, DATA_DIR: dataDir, ...extra };
      for (const [key, value] of Object.entries(extra)) if (value === '') delete merged[key];
      const config = loadConfig(configSchema, merged);
      const app = await buildService(
        config,
        { logger: createLogger(env.LOG_LEVEL === 'silent' ? 'silent' : 'warn'), sqlSchema: schema },
        buildOptions,
      );
      apps.push(app);
      const address = await app.listen({ host: '127.0.0.1', port: 0 });
      return { app, url: address.replace(/^http/, 'ws') };
    },
    async close() {
      for (const app of apps.splice(0)) await app.close().catch(() => undefined);
      for (const dir of dataDirs.splice(0)) await rm(dir, { recursive: true, force: true });
      if (env.DATABASE_URL && !options.databaseUrl)
        await dropSchema(env.DATABASE_URL, schema).catch(() => undefined);
      if (options.redisUrl) await deleteRedisPrefix(options.redisUrl, prefix).catch(() => undefined);
    },
  };
}

/** A WebSocket client that records every frame and waits for the ones a test expects. */
export class TestClient {
  readonly frames: ServerFrame[] = [];
  closeCode: number | undefined;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as ServerFrame);
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async connect(url: string, userId: string, device = 'default'): Promise<TestClient> {
    const socket = new WebSocket(`${url}/v1/socket?device=${device}`, ['chat.v1'], {
      headers: { authorization: `Bearer ${await tokenFor(userId)}` },
    });
    const client = new TestClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    await client.next((frame) => frame.type === 'hello');
    return client;
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first recorded frame (from `from` on) that matches, waiting up to `timeoutMs` for it. */
  async next<Frame extends ServerFrame = ServerFrame>(
    match: (frame: ServerFrame) => boolean,
    { timeoutMs = 10_000, from = 0 }: { timeoutMs?: number; from?: number } = {},
  ): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found) return found as Frame;
      if (this.closeCode !== undefined)
        throw new Error(`socket closed (${this.closeCode}) before the frame came`);
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new Error(`timed out waiting for a frame; got ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends a message and waits for its ack. */
  async sendMessage(channelId: string, clientMsgId: string, body: string) {
    this.send({ type: 'send', channelId, clientMsgId, body });
    return this.next<Extract<ServerFrame, { type: 'ack' }>>(
      (frame) =>
        (frame.type === 'ack' && frame.clientMsgId === clientMsgId) ||
        (frame.type === 'error' && frame.ref === clientMsgId),
    );
  }

  /**
   * Sends every message without waiting, then resends (same client ids) those refused, as a
   * client does, until all are acked. An error under load (a Redis timeout) is an unacked send.
   */
  async sendPipelined(channelId: string, clientMsgIds: readonly string[]): Promise<void> {
    let unacked = [...clientMsgIds];
    for (let round = 0; round < 10 && unacked.length > 0; round += 1) {
      const from = this.frames.length;
      for (const clientMsgId of unacked)
        this.send({ type: 'send', channelId, clientMsgId, body: clientMsgId });
      const outcomes = await Promise.all(
        unacked.map((clientMsgId) =>
          this.next(
            (frame) =>
              (frame.type === 'ack' && frame.clientMsgId === clientMsgId) ||
              (frame.type === 'error' && frame.ref === clientMsgId),
            { from },
          ),
        ),
      );
      unacked = unacked.filter((_, index) => outcomes[index]?.type !== 'ack');
    }
    if (unacked.length > 0) throw new Error(`${unacked.length} sends never acked`);
  }

  /** Delivered sequences of a channel, in the order they came. */
  delivered(channelId: string): number[] {
    return this.frames
      .filter((frame): frame is Extract<ServerFrame, { type: 'deliver' }> => frame.type === 'deliver')
      .filter((frame) => frame.message.channelId === channelId)
      .map((frame) => frame.message.seq);
  }

  async waitDelivered(channelId: string, count: number, timeoutMs = 15_000): Promise<number[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.delivered(channelId).length < count) {
      if (Date.now() > deadline)
        throw new Error(`got ${this.delivered(channelId).length} of ${count} deliveries in ${channelId}`);
      await this.next(() => false, { timeoutMs: Math.min(200, deadline - Date.now()) }).catch(
        () => undefined,
      );
    }
    return this.delivered(channelId);
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

export async function createGroup(
  app: ServiceApp,
  owner: string,
  members: string[],
  name = 'team',
): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/channels',
    headers: await authHeaders(owner),
    payload: { kind: 'group', name, members },
  });
  if (response.statusCode !== 201) throw new Error(`create group: ${response.statusCode} ${response.body}`);
  return (response.json() as { id: string }).id;
}

/** A database of its own on the server at `url`, dropped by the returned function. */
export async function freshDatabase(url: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = freshSchemaName('chatdb');
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const own = new URL(url);
  own.pathname = `/${name}`;
  return {
    url: own.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await client.end();
    },
  };
}
