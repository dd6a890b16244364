import crypto from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ConfigError, createLogger, loadConfig, type ServiceLogger } from '@sysdesign/platform';
import { freePort, tempDir } from '@sysdesign/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { configSchema } from '../../src/config.js';
import { buildService } from '../../src/service.js';
import { ClusterSecret, loadPeerCredentials } from '../../src/transport/peer-credentials.js';
import { peerRequest, startCluster, TEST_CLUSTER_SECRET, type TestCluster } from '../helpers.js';

/**
 * The peer API as an outsider meets it (issue #9, item 2): it is on its own port, not the public
 * one; without the cluster secret it answers 401 to everything, so nobody can read one replica
 * (skipping R), mint or store on one (skipping W), or overwrite a key everywhere with a forged
 * newer version; a node with SEEDS will not start without a secret; and the secret is compared in
 * constant time and never printed.
 */

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  vi.restoreAllMocks();
  syncBuiltinESMExports();
});

/** A store of a version whose dot claims a counter no real write reached: it would dominate every real one. */
function forgedStore(key: string, value: string) {
  const dot = ['http://127.0.0.1:1#1', 1_000_000, Date.now()];
  const version = { dot, clock: [], value: Buffer.from(value).toString('base64') };
  return { type: 'store', items: [{ key, versions: [version] }] };
}

describe('the peer API', () => {
  it('answers 401 to every peer message without the secret or with a wrong one, on every node', async () => {
    cluster = await startCluster(3);
    const [a] = cluster.nodes;
    expect((await a!.put('victim', 'genuine')).status).toBe(204);
    const messages = [
      { type: 'read', key: 'victim' },
      { type: 'mint', key: 'victim', value: 'Zm9yZ2Vk', context: [], writeId: 'w' },
      { type: 'gossip', from: 'http://127.0.0.1:1', members: [] },
    ];
    for (const node of cluster.nodes) {
      for (const secret of [null, 'wrong', `${TEST_CLUSTER_SECRET}!`, TEST_CLUSTER_SECRET.slice(0, -1), '']) {
        for (const message of [...messages, forgedStore('victim', 'forged')]) {
          const response = await peerRequest(node.url, message, secret);
          expect(response.status, `${node.spec.name} ${JSON.stringify(secret)}`).toBe(401);
          expect(((await response.json()) as { code: string }).code).toBe('KV_ERR_PEER_UNAUTHORIZED');
        }
      }
    }
    // Nothing forged landed: every replica still answers the genuine value, at r=3.
    const read = await a!.get('victim', '?r=3');
    expect(read.status).toBe(200);
    expect(await read.text()).toBe('genuine');
  });

  it('serves the peer API only on the peer port: the public port answers 404 for /internal, secret or not', async () => {
    cluster = await startCluster(1);
    const [node] = cluster.nodes;
    for (const headers of [{}, { 'x-cluster-secret': TEST_CLUSTER_SECRET }]) {
      const response = await node!.request('POST', '/internal/v1/peer', {
        body: JSON.stringify({ type: 'read', key: 'k' }),
        headers: { 'content-type': 'application/json', ...headers },
      });
      expect(response.status).toBe(404);
    }
    const allowed = await peerRequest(node!.url, { type: 'read', key: 'k' });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual({ type: 'versions', versions: [] });
    // And the peer port has nothing of the client API.
    const clientOnPeerPort = await fetch(`${node!.url}/v1/kv/k`, {
      headers: { 'x-cluster-secret': TEST_CLUSTER_SECRET },
    });
    expect(clientOnPeerPort.status).toBe(404);
  });

  it('answers malformed messages from a member with a 400 naming the field', async () => {
    cluster = await startCluster(1);
    const peerUrl = cluster.nodes[0]!.url;
    const notJson = await peerRequest(peerUrl, '{');
    expect(((await notJson.json()) as { code: string }).code).toBe('KV_ERR_PEER_MESSAGE_INVALID');
    const badField = await peerRequest(peerUrl, { type: 'read', key: 7 });
    expect(badField.status).toBe(400);
    expect(((await badField.json()) as { field: string }).field).toBe('request.key');
    expect((await peerRequest(peerUrl, { type: 'explode' })).status).toBe(400);
  });

  it('refuses to start a node with SEEDS and no cluster secret, naming CLUSTER_SECRET', async () => {
    const config = loadConfig(configSchema, {
      LOG_LEVEL: 'silent',
      DATA_DIR: await tempDir('kv-store-'),
      SEEDS: `http://127.0.0.1:${await freePort()}`,
    });
    const start = buildService(config, { logger: createLogger('silent') });
    await expect(start).rejects.toThrow(ConfigError);
    await expect(start).rejects.toThrow(/CLUSTER_SECRET: required with SEEDS/);
  });
});

describe('the cluster secret', () => {
  it('is compared with crypto.timingSafeEqual over equal-length digests, whatever length is offered', () => {
    const compare = vi.spyOn(crypto, 'timingSafeEqual');
    syncBuiltinESMExports();
    const secret = new ClusterSecret(TEST_CLUSTER_SECRET);
    expect(secret.matches(TEST_CLUSTER_SECRET)).toBe(true);
    expect(secret.matches('x')).toBe(false);
    expect(secret.matches('y'.repeat(10_000))).toBe(false);
    expect(secret.matches(undefined)).toBe(false);
    expect(compare).toHaveBeenCalledTimes(3);
    for (const [given, expected] of compare.mock.calls) {
      expect((given as Buffer).length).toBe(32);
      expect((expected as Buffer).length).toBe(32);
    }
  });

  it('never prints: logs, JSON and inspection show a placeholder', () => {
    const secret = new ClusterSecret(TEST_CLUSTER_SECRET);
    for (const shown of [JSON.stringify({ secret }), inspect({ secret }), `${secret}`]) {
      expect(shown).not.toContain(TEST_CLUSTER_SECRET);
      expect(shown).toContain('[cluster secret]');
    }
  });

  it('is made once in a 0600 file for the embedded mode, shared by every node, and only its path is logged', async () => {
    const dataDir = await tempDir('kv-store-');
    const file = join(dataDir, 'cluster-secret');
    const logged: unknown[] = [];
    const log = { info: (...args: unknown[]) => logged.push(args) } as unknown as ServiceLogger;
    const configFor = (node: string) =>
      loadConfig(configSchema, { DATA_DIR: join(dataDir, node), CLUSTER_SECRET_FILE: file });
    const first = await loadPeerCredentials(configFor('kv-1'), log);
    const second = await loadPeerCredentials(configFor('kv-2'), log);
    const written = (await readFile(file, 'utf8')).trim();
    expect(written.length).toBeGreaterThanOrEqual(32);
    expect(first!.secret.matches(written)).toBe(true);
    expect(second!.secret.matches(written)).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = JSON.stringify(logged);
    expect(text).toContain(file);
    expect(text).not.toContain(written);
  });
});
