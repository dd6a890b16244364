import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, loadConfig } from '@sysdesign/platform';
import { QuorumErrorCode } from '@sysdesign/quorum';
import { freePort, tempDir } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../src/config.js';
import { buildService, kvNodeOf } from '../src/service.js';
import { peerRequest, TEST_CLUSTER_SECRET } from './helpers.js';

/**
 * How the node is wired into the platform: what it opens is closed in reverse on shutdown and on
 * a failed start, and the coordinator's refusals reach clients through the service's error mapper.
 */

const context = () => ({ logger: createLogger('silent') });

/** A node of one that serves the peer API (it has the secret) on a free port. */
async function peerEnv(): Promise<Record<string, string>> {
  return { CLUSTER_SECRET: TEST_CLUSTER_SECRET, PEER_HOST: '127.0.0.1', PEER_PORT: String(await freePort()) };
}

function configIn(dataDir: string, env: Record<string, string> = {}) {
  return loadConfig(configSchema, {
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    FSYNC: 'interval',
    ANTI_ENTROPY_INTERVAL_MS: '0',
    ...env,
  });
}

describe('lifecycle', () => {
  it('closes the data engine when the start fails after it opened, and reports the failure', async () => {
    // The hints engine cannot open where a file sits: the start fails after the data engine opened.
    // Were that engine left open, its directory lock would refuse the next start in this process.
    const dataDir = await tempDir('kv-wiring-');
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, 'hints'), 'not a directory');
    await expect(buildService(configIn(dataDir), context())).rejects.toThrow();

    await rm(join(dataDir, 'hints'));
    const app = await buildService(configIn(dataDir), context());
    try {
      expect((await app.inject({ method: 'PUT', url: '/v1/kv/after', payload: 'v' })).statusCode).toBe(204);
    } finally {
      await app.close();
    }
  });

  it('stops the node before its storage closes, and closes the storage with the app', async () => {
    const dataDir = await tempDir('kv-wiring-');
    const app = await buildService(configIn(dataDir), context());
    const node = kvNodeOf(app);
    expect(app.lifecycle.open).toEqual(['storage', 'hint storage', 'kv node']);
    await app.close();
    expect(node.engine.stats().state).not.toBe('open');
    expect(node.hintEngine.stats().state).not.toBe('open');
    // The directory is free again: a new node opens on it.
    const again = await buildService(configIn(dataDir), context());
    await again.close();
  });

  it('closes the peer listener first, before the node stops, and frees its port', async () => {
    const env = await peerEnv();
    const app = await buildService(configIn(await tempDir('kv-wiring-'), env), context());
    expect(app.lifecycle.open).toEqual(['storage', 'hint storage', 'kv node', 'peer listener']);
    const peerUrl = `http://127.0.0.1:${env.PEER_PORT}`;
    expect((await peerRequest(peerUrl, { type: 'read', key: 'k' })).status).toBe(200);
    await app.close();
    await expect(peerRequest(peerUrl, { type: 'read', key: 'k' })).rejects.toThrow();
  });
});

describe('errors through the service mapper', () => {
  it('answers too many siblings with 409, the configured limit, and counts the outcome', async () => {
    const app = await buildService(configIn(await tempDir('kv-wiring-'), { MAX_SIBLINGS: '2' }), context());
    try {
      // Blind writes (no X-Context) are concurrent: each one adds a sibling.
      for (const value of ['a', 'b']) {
        expect((await app.inject({ method: 'PUT', url: '/v1/kv/k', payload: value })).statusCode).toBe(204);
      }
      const refused = await app.inject({ method: 'PUT', url: '/v1/kv/k', payload: 'c' });
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({ code: 'KV_ERR_TOO_MANY_SIBLINGS', maxSiblings: 2 });
      const metrics = (await app.inject({ url: '/metrics' })).body;
      expect(metrics).toMatch(/kv_requests_total\{[^}]*op="put"[^}]*outcome="too_many_siblings"[^}]*\} 1/);
    } finally {
      await app.close();
    }
  });

  it('answers the same refusal to a peer in the peer protocol, not as a client problem', async () => {
    // The peer scope maps a replica's refusals before the service's (client) mapper is asked.
    const env = await peerEnv();
    const app = await buildService(
      configIn(await tempDir('kv-wiring-'), { MAX_SIBLINGS: '1', ...env }),
      context(),
    );
    try {
      expect((await app.inject({ method: 'PUT', url: '/v1/kv/k', payload: 'a' })).statusCode).toBe(204);
      const mint = {
        type: 'mint',
        key: 'k',
        value: Buffer.from('b').toString('base64'),
        context: [],
        writeId: 'w',
      };
      const response = await peerRequest(`http://127.0.0.1:${env.PEER_PORT}`, mint);
      expect(response.status).toBe(409);
      expect(await response.json()).toMatchObject({
        code: 'KV_ERR_PEER_REQUEST_FAILED',
        quorumCode: QuorumErrorCode.TOO_MANY_SIBLINGS,
      });
    } finally {
      await app.close();
    }
  });
});
