import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { LinkProxy } from '../../src/faults/proxy.js';
import { freePort } from '../../src/ports.js';
import { seededRandom } from '../../src/random.js';
import { waitFor } from '../../src/wait.js';
import { startEchoTarget } from './echo-target.js';

const seed = 22;

async function startProxy(targetPort: number): Promise<LinkProxy> {
  const proxy = await LinkProxy.start({ targetPort, random: seededRandom(seed) });
  onTestFinished(() => proxy.close());
  return proxy;
}

/** A client socket that records what it receives and how it ended. */
interface Client {
  socket: Socket;
  received: () => string;
  error: () => NodeJS.ErrnoException | undefined;
  closed: () => boolean;
}

async function connect(port: number): Promise<Client> {
  const socket = createConnection({ host: '127.0.0.1', port });
  let received = '';
  let error: NodeJS.ErrnoException | undefined;
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString();
  });
  socket.on('error', (caught) => {
    error = caught;
  });
  socket.on('close', () => {
    closed = true;
  });
  onTestFinished(() => {
    socket.destroy();
  });
  await once(socket, 'connect');
  return { socket, received: () => received, error: () => error, closed: () => closed };
}

/** Sends `text` and waits for it to come back; with `timeoutMs`, gives up the way a careful client does. */
function roundTrip(client: Client, text: string, timeoutMs?: number): Promise<void> {
  const before = client.received().length;
  client.socket.write(text);
  return new Promise((resolve, reject) => {
    const timer =
      timeoutMs === undefined ? undefined : setTimeout(() => finish(new Error('timed out')), timeoutMs);
    const interval = setInterval(() => {
      if (client.received().slice(before).includes(text)) finish();
    }, 5);
    function finish(error?: Error) {
      clearTimeout(timer);
      clearInterval(interval);
      if (error === undefined) resolve();
      else reject(error);
    }
    onTestFinished(() => finish(new Error('test finished')));
  });
}

/** Whether `promise` settles within `waitMs`: a bounded look at something expected to hang. */
async function settlesWithin(promise: Promise<unknown>, waitMs: number): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  return settled;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('LinkProxy', () => {
  it('forwards a request and its reply unchanged while healthy', async () => {
    const target = await startEchoTarget();
    const proxy = await startProxy(target.port);
    const client = await connect(proxy.port);
    await roundTrip(client, 'ping', 2_000);
    expect(target.received()).toBe('ping');
  });

  it('leaves a client without a timeout hanging on a blackholed link, connection still open', async () => {
    const target = await startEchoTarget();
    const proxy = await startProxy(target.port);
    const client = await connect(proxy.port);
    proxy.cut('blackhole');
    const reply = roundTrip(client, 'anyone there?');
    expect(await settlesWithin(reply, 500)).toBe(false);
    expect(client.closed()).toBe(false);
    expect(target.received()).toBe('');
  });

  it('fails a client with a timeout in time on a blackholed link, new connections included', async () => {
    const target = await startEchoTarget();
    const proxy = await startProxy(target.port);
    proxy.cut('blackhole');
    const client = await connect(proxy.port);
    const startedAt = Date.now();
    await expect(roundTrip(client, 'ping', 200)).rejects.toThrow('timed out');
    const elapsedMs = Date.now() - startedAt;
    expect(elapsedMs).toBeGreaterThanOrEqual(190);
    expect(elapsedMs).toBeLessThan(1_000);
  });

  it('hides a client closing during a blackhole from the target until heal', async () => {
    const target = await startEchoTarget();
    const proxy = await startProxy(target.port);
    const client = await connect(proxy.port);
    await waitFor(() => target.openSockets() === 1, 'the target to accept the proxied connection');
    proxy.cut('blackhole');
    client.socket.destroy();
    await sleep(200);
    expect(target.openSockets()).toBe(1);
    proxy.heal();
    await waitFor(() => target.openSockets() === 0, 'the close to reach the target after heal');
    expect(proxy.connectionCount).toBe(0);
  });

  it('lets requests in and drops the replies on a one-way cut', async () => {
    const target = await startEchoTarget();
    const proxy = await startProxy(target.port);
    const client = await connect(proxy.port);
    proxy.dropReplies();
    await expect(roundTrip(client, 'write x=1', 300)).rejects.toThrow('timed out');
    expect(target.received()).toBe('write x=1');
    expect(client.received()).toBe('');
  });

  it('lets replies out and drops the requests on the opposite one-way cut', async () => {
    const target = await startEchoTarget({ greeting: 'hello' });
    const proxy = await startProxy(target.port);
    proxy.dropRequests();
    const client = await connect(proxy.port);
    await waitFor(() => client.received() === 'hello', 'the greeting through the proxy');
    await expect(roundTrip(client, 'write x=1', 300)).rejects.toThrow('timed out');
    expect(target.received()).toBe('');
  });

  it('resets open and new connections on a reset cut (ECONNRESET)', async () => {
    const target = await startEchoTarget();
    const proxy = await startProxy(target.port);
    const open = await connect(proxy.port);
    await roundTrip(open, 'ping', 2_000);
    proxy.cut('reset');
    await waitFor(() => open.closed(), 'the open connection to close');
    expect(open.error()?.code).toBe('ECONNRESET');
    const fresh = createConnection({ host: '127.0.0.1', port: proxy.port });
    onTestFinished(() => {
      fresh.destroy();
    });
    const [error] = (await once(fresh, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNRESET');
  });

  it('resets the client when nothing listens at the target', async () => {
    const proxy = await startProxy(await freePort());
    const client = createConnection({ host: '127.0.0.1', port: proxy.port });
    onTestFinished(() => {
      client.destroy();
    });
    const [error] = (await once(client, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNRESET');
    await waitFor(() => proxy.connectionCount === 0, 'the proxy to forget the failed connection');
  });

  it('restores both directions on heal, on an open connection and a new one', async () => {
    const target = await startEchoTarget();
    const proxy = await startProxy(target.port);
    const open = await connect(proxy.port);
    proxy.dropRequests();
    proxy.dropReplies();
    await expect(roundTrip(open, 'lost', 200)).rejects.toThrow('timed out');
    proxy.heal();
    await roundTrip(open, 'after heal', 2_000);
    const fresh = await connect(proxy.port);
    await roundTrip(fresh, 'fresh', 2_000);
    expect(target.received()).toBe('after healfresh');
  });

  it('adds at least the mean latency each way', async () => {
    const target = await startEchoTarget();
    const proxy = await startProxy(target.port);
    const client = await connect(proxy.port);
    proxy.latency({ meanMs: 100 });
    const startedAt = Date.now();
    await roundTrip(client, 'slow', 2_000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(200);
  });

  it('keeps chunks in order under jitter larger than the gap between them', async () => {
    const target = await startEchoTarget();
    const proxy = await startProxy(target.port);
    const client = await connect(proxy.port);
    proxy.latency({ meanMs: 30, jitterMs: 30 });
    const messages = Array.from({ length: 40 }, (_, index) => `<${index}>`);
    for (const message of messages) {
      client.socket.write(message);
      await sleep(1);
    }
    const expected = messages.join('');
    await waitFor(() => client.received() === expected, 'every message back in order', { timeoutMs: 3_000 });
    expect(target.received()).toBe(expected);
  });

  it('limits throughput to roughly the bandwidth', async () => {
    const target = await startEchoTarget();
    const proxy = await startProxy(target.port);
    const client = await connect(proxy.port);
    proxy.bandwidth(50_000);
    const payload = 'x'.repeat(25_000);
    const startedAt = Date.now();
    client.socket.write(payload);
    await waitFor(() => target.received().length === payload.length, 'the payload at the target', {
      timeoutMs: 3_000,
    });
    const elapsedMs = Date.now() - startedAt;
    // 25 kB at 50 kB/s is 500 ms; loopback alone takes a millisecond or two.
    expect(elapsedMs).toBeGreaterThanOrEqual(450);
    expect(elapsedMs).toBeLessThan(1_500);
  });

  it('leaves no socket or server open after close', async () => {
    const tcpHandles = () =>
      process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap' || name === 'TCPServerWrap')
        .length;
    // Handles of the previous tests close a loop turn after their cleanups: start from none.
    await waitFor(() => tcpHandles() === 0, 'the previous tests to release their TCP handles');
    const target = await startEchoTarget();
    const baseline = tcpHandles();
    const proxy = await LinkProxy.start({ targetPort: target.port, random: seededRandom(seed) });
    onTestFinished(() => proxy.close());
    const clients = [await connect(proxy.port), await connect(proxy.port), await connect(proxy.port)];
    for (const client of clients) await roundTrip(client, 'ping', 2_000);
    proxy.cut('blackhole');
    expect(proxy.connectionCount).toBe(3);
    await proxy.close();
    expect(proxy.connectionCount).toBe(0);
    await waitFor(() => clients.every((client) => client.closed()), 'every client to see its connection end');
    await waitFor(() => tcpHandles() === baseline, 'the TCP handles to return to the baseline');
  });
});
