import { freePort, seededRandom, tempDir, waitFor } from '@sysdesign/testkit';
import { LinkProxy } from '@sysdesign/testkit/faults';
import { afterEach, describe, expect, it } from 'vitest';
import { TestNode } from '../helpers.js';

/**
 * PEER_DIAL_MAP: node A dials B's advertised URL at another address (here a loopback proxy, as a
 * NAT or port forward would be). Every byte from A to B goes through it, so cutting it cuts A off
 * from B, while B keeps its identity everywhere: A's membership names B by its advertised URL, and
 * B still reaches A directly.
 */

const nodes: TestNode[] = [];
const proxies: LinkProxy[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((node) => node.stop()));
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

async function startPair(): Promise<{ a: TestNode; b: TestNode; proxy: LinkProxy }> {
  const [portA, portB, peerA, peerB] = await Promise.all(Array.from({ length: 4 }, () => freePort()));
  const proxy = await LinkProxy.start({ targetPort: peerB as number, random: seededRandom(1) });
  proxies.push(proxy);
  const urlA = `http://127.0.0.1:${peerA}`;
  const urlB = `http://127.0.0.1:${peerB}`;
  const a = new TestNode({
    name: 'kv-a',
    port: portA as number,
    peerPort: peerA as number,
    dataDir: await tempDir('kv-dial-'),
    seeds: [urlB],
    env: { N: '2', W: '2', R: '2', PEER_DIAL_MAP: `${urlB}=http://127.0.0.1:${proxy.port}` },
  });
  const b = new TestNode({
    name: 'kv-b',
    port: portB as number,
    peerPort: peerB as number,
    dataDir: await tempDir('kv-dial-'),
    seeds: [urlA],
    env: { N: '2', W: '2', R: '2' },
  });
  nodes.push(a, b);
  await Promise.all([a.start(), b.start()]);
  return { a, b, proxy };
}

describe('a peer dial map', () => {
  it('sends every request to a mapped peer through the dial address, and keeps the advertised identity', async () => {
    const { a, b, proxy } = await startPair();
    expect((await a.put('through-proxy', 'one')).status).toBe(204);
    expect(proxy.connectionCount).toBeGreaterThan(0);
    expect(await b.storedValues('through-proxy')).toEqual(['one']);
    const members = ((await (await a.request('GET', '/v1/cluster')).json()) as { members: { url: string }[] })
      .members;
    expect(members.map((member) => member.url).sort()).toEqual([a.url, b.url].sort());

    // Cut the dial address: A can no longer reach B (W=2 fails through A), B still reaches A.
    proxy.cut('reset');
    const cut = await a.put('while-cut', 'two', { query: '?w=2' });
    expect(cut.status).toBe(503);
    expect((await b.put('from-b', 'three')).status).toBe(204);
    expect(await a.storedValues('from-b')).toEqual(['three']);

    proxy.heal();
    await waitFor(async () => (await a.put('after-heal', 'four')).status === 204, 'A to reach B again', {
      timeoutMs: 10_000,
    });
    expect(await b.storedValues('after-heal')).toEqual(['four']);
  });
});
