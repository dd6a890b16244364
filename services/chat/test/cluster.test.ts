import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeWith, freePort, privateRedis, redisAndPostgresBackend, waitFor } from '@sysdesign/testkit';
import { Redis } from 'ioredis';
import { afterEach, expect, it, onTestFinished } from 'vitest';
import {
  authHeaders,
  createGroup,
  type Deployment,
  deployment,
  freshDatabase,
  TestClient,
} from './helpers.js';

/**
 * Several chat instances behind no sticky balancer: one Postgres schema, one Redis prefix. A
 * socket may land on any instance; rooms on Redis pub/sub carry messages between them.
 */

const SERVICE_DIR = fileURLToPath(new URL('..', import.meta.url));
const backends = await redisAndPostgresBackend();

let current: Deployment | undefined;
const clients: TestClient[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await current?.close();
  current = undefined;
});

async function connect(url: string, userId: string, device?: string): Promise<TestClient> {
  const client = await TestClient.connect(url, userId, device);
  clients.push(client);
  return client;
}

/** The chat as its own process (`src/main.ts`), so it can be killed with SIGKILL. */
async function startProcess(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'chat-proc-'));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@sysdesign/source', 'src/main.ts'],
    {
      cwd: SERVICE_DIR,
      env: { ...process.env, ...env, PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  children.push(child);
  child.once('exit', () => void rm(dataDir, { recursive: true, force: true }));
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`chat process exited: ${stderr}`);
      const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return response?.status === 200;
    },
    'the chat process to be ready',
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  return { child, url: `ws://127.0.0.1:${port}` };
}

describeWith(
  backends,
  'chat across instances (Redis rooms, shared Postgres)',
  ({ redisUrl, databaseUrl }) => {
    it('delivers a message sent on one instance to a member on the other, in order', async () => {
      current = deployment({ redisUrl });
      const one = await current.start();
      const two = await current.start();
      const channelId = await createGroup(one.app, 'alice', ['bob']);
      const alice = await connect(one.url, 'alice');
      const bob = await connect(two.url, 'bob');
      await alice.sendPipelined(
        channelId,
        Array.from({ length: 50 }, (_, index) => `m${index}`),
      );
      expect(await bob.waitDelivered(channelId, 50)).toEqual(
        Array.from({ length: 50 }, (_, index) => index + 1),
      );
    });

    it('keeps each channel in order for a member on a third instance when two instances send at once', async () => {
      // Two senders on two instances race; pub/sub notices interleave; the reader sees 1..N with no gap.
      current = deployment({ redisUrl });
      const [one, two, three] = [await current.start(), await current.start(), await current.start()];
      const channelId = await createGroup(one.app, 'alice', ['bob', 'carol']);
      const alice = await connect(one.url, 'alice');
      const bob = await connect(two.url, 'bob');
      const carol = await connect(three.url, 'carol');
      await Promise.all([
        alice.sendPipelined(
          channelId,
          Array.from({ length: 40 }, (_, index) => `a${index}`),
        ),
        bob.sendPipelined(
          channelId,
          Array.from({ length: 40 }, (_, index) => `b${index}`),
        ),
      ]);
      expect(await carol.waitDelivered(channelId, 80)).toEqual(
        Array.from({ length: 80 }, (_, index) => index + 1),
      );
    });

    it('pushes presence changes to subscribers on another instance, offline only after the grace period', async () => {
      current = deployment({ redisUrl });
      const one = await current.start();
      const two = await current.start();
      const watcher = await connect(one.url, 'watcher');
      watcher.send({ type: 'presence.subscribe', userIds: ['dana'] });
      await watcher.next((frame) => frame.type === 'presence' && frame.userId === 'dana' && !frame.online);
      const dana = await connect(two.url, 'dana');
      await watcher.next((frame) => frame.type === 'presence' && frame.userId === 'dana' && frame.online);
      const from = watcher.frames.length;
      await dana.close();
      expect(
        await watcher.next((frame) => frame.type === 'presence' && frame.userId === 'dana', { from }),
      ).toMatchObject({ online: false });
    });

    it('loses nothing acknowledged when an instance is killed: its clients resume on the other', async () => {
      // alice and bob sit on the process we kill -9 mid-conversation; every message alice saw acked
      // must reach bob, in order and once, after both reconnect to the surviving instance.
      const database = await freshDatabase(databaseUrl);
      onTestFinished(() => database.drop());
      current = deployment({ redisUrl, databaseUrl: database.url });
      const survivor = await current.start();
      const victim = await startProcess({ ...current.env, PORT: '0' });
      const channelId = await createGroup(survivor.app, 'alice', ['bob']);
      let alice = await connect(victim.url, 'alice');
      let bob = await connect(victim.url, 'bob', 'laptop');
      const acked: number[] = [];
      for (let index = 1; index <= 30; index += 1) {
        const ack = await alice.sendMessage(channelId, `k${index}`, `${index}`);
        if (ack.type === 'ack') acked.push(ack.seq);
      }
      await bob.waitDelivered(channelId, 10);
      bob.send({ type: 'ack', channelId, seq: 10 });
      bob.send({ type: 'ping' });
      await bob.next((frame) => frame.type === 'pong');
      // Unacked sends in flight at the kill: the client resends them by client id after reconnecting.
      for (let index = 31; index <= 40; index += 1)
        alice.send({ type: 'send', channelId, clientMsgId: `k${index}`, body: `${index}` });
      victim.child.kill('SIGKILL');
      await waitFor(() => alice.closeCode !== undefined && bob.closeCode !== undefined, 'sockets to drop');
      alice = await connect(survivor.url, 'alice');
      for (let index = 31; index <= 40; index += 1) {
        const ack = await alice.sendMessage(channelId, `k${index}`, `${index}`);
        if (ack.type === 'ack') acked.push(ack.seq);
      }
      const seen = new Set(bob.delivered(channelId));
      bob = await connect(survivor.url, 'bob', 'laptop');
      expect(bob.delivered(channelId)).toEqual([]);
      bob.send({ type: 'resume', channelId });
      await bob.next((frame) => frame.type === 'resumed');
      for (const seq of bob.delivered(channelId)) seen.add(seq);
      expect(new Set(acked).size).toBe(40);
      for (const seq of acked) expect(seen.has(seq)).toBe(true);
      // The resume starts at bob's saved cursor (10, or less if the kill beat the ack flush) and is in order.
      const resumed = bob.delivered(channelId);
      expect(resumed).toEqual([...resumed].sort((x, y) => x - y));
      expect(resumed[resumed.length - 1]).toBe(40);
    }, 120_000);

    it('fills what pub/sub lost while its link was down, once the subscriber is back', async () => {
      // A message stored by an instance without Redis never reaches the room; killing our
      // subscriber's connection (on a private Redis) makes it resubscribe and read the store.
      const privateServer = await privateRedis();
      onTestFinished(() => privateServer.stop());
      current = deployment({ redisUrl: privateServer.url });
      const linked = await current.start();
      const unlinked = await current.start({ REDIS_URL: '', REDIS_KEY_PREFIX: '' });
      const channelId = await createGroup(linked.app, 'alice', ['bob']);
      const bob = await connect(linked.url, 'bob');
      const sent = await unlinked.app.inject({
        method: 'POST',
        url: `/v1/channels/${channelId}/messages`,
        headers: await authHeaders('alice'),
        payload: { clientMsgId: 'lost', body: 'published nowhere' },
      });
      expect(sent.statusCode).toBe(201);
      const admin = new Redis(privateServer.url);
      onTestFinished(() => void admin.disconnect());
      await admin.client('KILL', 'TYPE', 'pubsub');
      expect(await bob.waitDelivered(channelId, 1)).toEqual([1]);
    });

    it('survives a reconnect storm: 40 clients drop and reconnect at once, each resumes without gap', async () => {
      current = deployment({ redisUrl });
      const one = await current.start();
      const two = await current.start();
      const users = Array.from({ length: 40 }, (_, index) => `storm${index}`);
      const channelId = await createGroup(one.app, 'host', users);
      const host = await connect(one.url, 'host');
      let sockets = await Promise.all(
        users.map((user, index) => connect(index % 2 ? one.url : two.url, user)),
      );
      for (let index = 1; index <= 10; index += 1) await host.sendMessage(channelId, `s${index}`, `${index}`);
      await Promise.all(sockets.map((socket) => socket.waitDelivered(channelId, 10)));
      await Promise.all(sockets.map((socket) => socket.close()));
      for (let index = 11; index <= 20; index += 1)
        await host.sendMessage(channelId, `s${index}`, `${index}`);
      sockets = await Promise.all(users.map((user, index) => connect(index % 2 ? two.url : one.url, user)));
      for (const socket of sockets) socket.send({ type: 'resume', channelId, afterSeq: 10 });
      for (const socket of sockets) {
        await socket.next((frame) => frame.type === 'resumed');
        expect(socket.delivered(channelId)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
      }
    }, 60_000);
  },
);
