import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, tempDir, waitFor } from '@sysdesign/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FAST_CLUSTER_ENV,
  History,
  liveTexts,
  peerRequest,
  TEST_CLUSTER_SECRET,
  TestNode,
} from '../helpers.js';

/**
 * kill -9 a node in the middle of writes, then restart it: no write it acknowledged is missing
 * from its disk, and no write the cluster acknowledged is missing from a quorum read. The killed
 * node is a real process (src/main.ts, fsync always); its two peers run in this process.
 */

const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
/** How long a child may take to start: tsx compiles the sources on the fly. */
const START_TIMEOUT_MS = 30_000;
const WRITERS = 12;
/** Acknowledgements from the doomed node before it is killed. */
const KILL_AFTER_ACKS = 150;

const children: ChildProcess[] = [];
const inProcess: TestNode[] = [];
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(inProcess.splice(0).map((node) => node.stop()));
});

function spawnNode(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@sysdesign/source', 'src/main.ts'],
    {
      cwd: packageRoot,
      env: { ...process.env, ...FAST_CLUSTER_ENV, LOG_LEVEL: 'warn', FSYNC: 'always', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output.slice(-2_000) };
}

async function waitReady(url: string, output: () => string): Promise<void> {
  await waitFor(
    async () => {
      try {
        return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) })).status === 200;
      } catch {
        return false;
      }
    },
    `${url} to be ready (output: ${output()})`,
    { timeoutMs: START_TIMEOUT_MS, intervalMs: 100 },
  );
}

async function incarnationOf(url: string): Promise<number> {
  const body = (await (await fetch(`${url}/v1/cluster`)).json()) as { self: { incarnation: number } };
  return body.self.incarnation;
}

describe('kill -9 mid-write', () => {
  it('loses no write the killed node acknowledged, and none the cluster acknowledged', async () => {
    const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    const [portA, portB, portC, peerA, peerB, peerC] = ports as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const urls = [portA, portB, portC].map((port) => `http://127.0.0.1:${port}`) as [string, string, string];
    const peerUrls = [peerA, peerB, peerC].map((port) => `http://127.0.0.1:${port}`);
    const dirA = await tempDir('kv-store-');
    const envA = {
      NODE_ID: 'kv-a',
      PORT: String(portA),
      PEER_PORT: String(peerA),
      PEER_HOST: '127.0.0.1',
      CLUSTER_SECRET: TEST_CLUSTER_SECRET,
      DATA_DIR: dirA,
      SEEDS: `${peerUrls[1]},${peerUrls[2]}`,
    };
    for (const [index, port] of [portB, portC].entries()) {
      const peerPort = index === 0 ? peerB : peerC;
      const node = new TestNode({
        name: `kv-${index === 0 ? 'b' : 'c'}`,
        port,
        peerPort,
        dataDir: await tempDir('kv-store-'),
        seeds: peerUrls.filter((url) => url !== `http://127.0.0.1:${peerPort}`),
        env: { FSYNC: 'always' },
      });
      inProcess.push(node);
    }
    const [b, c] = inProcess as [TestNode, TestNode];
    let a = spawnNode(envA);
    await Promise.all([b.start(), c.start(), waitReady(urls[0], a.output)]);
    const incarnationBefore = await incarnationOf(urls[0]);

    // Writers hammer node A with w=1: a 204 from A means A minted and stored the write itself.
    const ackedByA = new History();
    const cluster = new History();
    let next = 0;
    let acks = 0;
    let killed = false;
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      a.child.once('exit', (_code, signal) => resolve(signal)),
    );
    const writer = async () => {
      while (!killed) {
        const index = next++;
        const key = `crash-${index}`;
        const value = `value-${index}-${'x'.repeat(index % 200)}`;
        try {
          const response = await fetch(`${urls[0]}/v1/kv/${key}?w=1`, {
            method: 'PUT',
            body: value,
            signal: AbortSignal.timeout(5_000),
          });
          if (response.status !== 204) continue;
        } catch {
          continue; // the kill cut this request: not acknowledged
        }
        ackedByA.acknowledged(key, value);
        cluster.acknowledged(key, value);
        if (++acks === KILL_AFTER_ACKS) {
          killed = true;
          a.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, writer));
    expect(await exited).toBe('SIGKILL');
    expect(ackedByA.size).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);

    // While A is down, the other two keep taking W=2 writes.
    for (let index = 0; index < 20; index++) {
      const key = `while-down-${index}`;
      expect((await b.put(key, `v-${index}`)).status).toBe(204);
      cluster.acknowledged(key, `v-${index}`);
    }

    a = spawnNode(envA);
    await waitReady(urls[0], a.output);
    expect(await incarnationOf(urls[0])).toBeGreaterThan(incarnationBefore);

    // Every write A acknowledged is on A's own disk (its peer read answers from its store).
    const readOnA = async (key: string) => {
      const response = await peerRequest(peerUrls[0]!, { type: 'read', key });
      const body = (await response.json()) as { versions: Array<{ value: string | null }> };
      return body.versions
        .filter((version) => version.value !== null)
        .map((version) => Buffer.from(version.value!, 'base64').toString());
    };
    expect(await ackedByA.missing(readOnA)).toEqual([]);
    // And every write the cluster acknowledged reads back through the restarted node, with R=3 since some were W=1.
    expect(
      await cluster.missing(async (key) => {
        const response = await fetch(`${urls[0]}/v1/kv/${key}?r=3`);
        return [await response.text()];
      }),
    ).toEqual([]);
    expect(liveTexts(await b.node.quorum.replica.read('while-down-0'))).toEqual(['v-0']);
  });
});
