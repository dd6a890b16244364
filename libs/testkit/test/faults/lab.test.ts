import { createServer, type Server } from 'node:http';
import {
  checkLinearizableRegister,
  History,
  LinkProxy,
  Nemesis,
  renderReport,
  toFaultRecords,
} from '@sysdesign/testkit/faults';
import { describe, expect, it, onTestFinished } from 'vitest';
import { seededRandom } from '../../src/random.js';

/**
 * The fault lab's parts compose through the public `faults` entry: a register served over HTTP
 * on one node, reached through a loopback proxy that a seeded nemesis blackholes and slows, with
 * clients recording every operation (timeouts as unknown). One node with one value is
 * linearizable whatever the link does, so the checker must pass, and the report must list the
 * faults the nemesis injected.
 */

const REQUEST_TIMEOUT_MS = 150;

async function startRegister(): Promise<{ server: Server; port: number }> {
  let value: unknown = null;
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      if (request.method === 'PUT') value = JSON.parse(body);
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(value));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}

async function call(port: number, method: 'GET' | 'PUT', value?: number): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${port}/register`, {
    method,
    ...(value === undefined ? {} : { body: JSON.stringify(value) }),
    headers: { connection: 'close' },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return response.json();
}

describe('the fault lab, composed', () => {
  it('finds a one-node register linearizable through blackholes and latency, and reports the faults', async () => {
    const { port } = await startRegister();
    const proxy = await LinkProxy.start({ targetPort: port, random: seededRandom(7) });
    onTestFinished(() => proxy.close());
    const history = new History();
    const nemesis = new Nemesis({
      seed: 11,
      durationMs: 1_200,
      menu: [
        { fault: 'blackhole', weight: 1 },
        { fault: 'latency', weight: 1 },
      ],
      targets: ['client -> register'],
      faultDurationMs: { minMs: 150, maxMs: 300 },
      gapMs: { minMs: 50, maxMs: 150 },
      quiesceMs: 100,
    });
    let running = true;
    const clients = ['c1', 'c2', 'c3'].map(async (process, index) => {
      for (let step = 0; running && step < 200; step += 1) {
        const write = step % 2 === 0;
        const value = index * 1_000 + step;
        await history.run(process, write ? { f: 'write', key: 'r', value } : { f: 'read', key: 'r' }, () =>
          call(proxy.port, write ? 'PUT' : 'GET', write ? value : undefined),
        );
      }
    });
    const injected = await nemesis.run({
      blackhole: () => {
        proxy.cut('blackhole');
        return () => proxy.heal();
      },
      latency: () => {
        proxy.latency({ meanMs: 40, jitterMs: 20 });
        return () => proxy.heal();
      },
    });
    running = false;
    await Promise.all(clients);

    const result = checkLinearizableRegister(history.events());
    expect(result.anomalies).toEqual([]);
    expect(result.valid).toBe(true);
    const outcomes = new Set(history.events().map((event) => event.type));
    expect(outcomes).toContain('ok');
    expect(outcomes).toContain('unknown');
    const report = renderReport({
      seed: nemesis.schedule.seed,
      faults: toFaultRecords(injected),
      history: history.events(),
      results: { linearizable: result },
    });
    for (const fault of injected) expect(report).toContain(fault.fault);
  }, 15_000);
});
