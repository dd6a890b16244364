import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NodeProcess, type ProcessCluster, startProcessCluster } from '../../src/faults/processes.js';
import { freePort } from '../../src/ports.js';
import { tempDir } from '../../src/temp-dir.js';

const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
const script = 'test/faults/fixtures/http-node.ts';

function startCluster(size: number): Promise<ProcessCluster> {
  return startProcessCluster({
    size,
    script,
    cwd: packageRoot,
    readyPath: '/',
    env: (slot) => ({ PORT: String(slot.port), DATA_DIR: slot.dataDir }),
  });
}

async function singleNode(): Promise<{ node: NodeProcess; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const env = { PORT: String(port), DATA_DIR: await tempDir('process-node-') };
  const node = new NodeProcess({ script, cwd: packageRoot, env, readyUrl: url });
  await node.start();
  return { node, url };
}

/** The pid a node answers with, or the error that stopped it from answering within `timeoutMs`. */
async function ask(url: string, timeoutMs = 2_000): Promise<number | string> {
  try {
    return Number(await (await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })).text());
  } catch (error) {
    return (error as Error).name;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a cluster of node processes', () => {
  it('kills a node with SIGKILL and restarts it on the same port and data', async () => {
    const cluster = await startCluster(2);
    const [first, second] = cluster.nodes as [NodeProcess, NodeProcess];
    const firstPid = first.pid as number;
    expect(await ask(cluster.slots[0]!.url)).toBe(firstPid);

    await first.kill();
    expect(alive(firstPid)).toBe(false);
    expect(await ask(cluster.slots[0]!.url)).toBe('TypeError');
    expect(await ask(cluster.slots[1]!.url)).toBe(second.pid);

    await first.start();
    expect(await ask(cluster.slots[0]!.url)).toBe(first.pid);
    expect(first.pid).not.toBe(firstPid);
    const starts = await readFile(join(cluster.slots[0]!.dataDir, 'starts.log'), 'utf8');
    expect(starts.trim().split('\n')).toEqual([String(firstPid), String(first.pid)]);
  });

  it('stops a node with SIGTERM, and stops the whole cluster', async () => {
    const cluster = await startCluster(2);
    const pids = cluster.nodes.map((node) => node.pid as number);
    await cluster.nodes[0]!.stop();
    expect(cluster.nodes[0]!.running).toBe(false);
    await cluster.stop();
    expect(pids.filter(alive)).toEqual([]);
  });
});

describe('starting a node process', () => {
  it('fails at once with its output when the node exits before it is ready', async () => {
    const env = { PORT: 'none', DATA_DIR: await tempDir('process-node-') };
    const node = new NodeProcess({ script, cwd: packageRoot, env, readyUrl: 'http://127.0.0.1:9/' });
    await expect(node.start()).rejects.toThrow(/exited before ready:[\s\S]*ERR_SOCKET_BAD_PORT/);
  });

  it('kills a node that is not ready in time instead of leaving it running', async () => {
    const dataDir = await tempDir('process-node-');
    const env = { PORT: String(await freePort()), DATA_DIR: dataDir };
    const wrongUrl = `http://127.0.0.1:${await freePort()}/`;
    const node = new NodeProcess({
      script,
      cwd: packageRoot,
      env,
      readyUrl: wrongUrl,
      startTimeoutMs: 1_500,
    });
    await expect(node.start()).rejects.toThrow(/timed out after 1500 ms waiting for .* to be ready/);
    const pid = Number((await readFile(join(dataDir, 'starts.log'), 'utf8')).trim());
    expect(alive(pid)).toBe(false);
    expect(node.running).toBe(false);
  });
});

describe('pausing a node process', () => {
  it('makes it unresponsive until resumed, then it answers as the same process', async () => {
    const { node, url } = await singleNode();
    node.pause();
    expect(node.paused).toBe(true);
    expect(await ask(url, 300)).toBe('TimeoutError');
    node.resume();
    expect(await ask(url)).toBe(node.pid);
  });

  it('resumes by itself after a timed pause', async () => {
    const { node, url } = await singleNode();
    const pausedAt = Date.now();
    node.pause(400);
    expect(await ask(url, 3_000)).toBe(node.pid);
    expect(Date.now() - pausedAt).toBeGreaterThanOrEqual(350);
    expect(node.paused).toBe(false);
  });

  it('stops a paused node: it is woken to handle SIGTERM', async () => {
    const { node } = await singleNode();
    const pid = node.pid as number;
    node.pause();
    await node.stop();
    expect(alive(pid)).toBe(false);
  });
});

describe('cleanup', () => {
  let pidsOfFailedTest: number[] = [];

  it.fails('(a test that fails with a running and a paused node)', async () => {
    const cluster = await startCluster(2);
    pidsOfFailedTest = cluster.nodes.map((node) => node.pid as number);
    cluster.nodes[1]!.pause();
    throw new Error('planted failure');
  });

  it('leaves nothing running after a failed test', () => {
    expect(pidsOfFailedTest).toHaveLength(2);
    expect(pidsOfFailedTest.filter(alive)).toEqual([]);
  });
});
