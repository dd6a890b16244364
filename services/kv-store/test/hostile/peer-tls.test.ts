import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, tempDir, waitFor } from '@sysdesign/testkit';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_CLUSTER_SECRET, TestNode } from '../helpers.js';

/**
 * The peer listener over TLS: with PEER_TLS_CERT_FILE and PEER_TLS_KEY_FILE the peer API is HTTPS
 * only, nodes advertise https:// URLs and trust PEER_TLS_CA_FILE when they call each other, so
 * the secret in its header never crosses the wire in clear.
 */

const run = promisify(execFile);
const nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((node) => node.stop()));
});

/** A self-signed certificate (for 127.0.0.1 unless `subjectAltName` says otherwise), made by openssl for this test. */
async function selfSignedCertificate(
  subjectAltName = 'IP:127.0.0.1',
): Promise<{ cert: string; key: string }> {
  const dir = await tempDir('kv-tls-');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    `subjectAltName=${subjectAltName}`,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { cert, key };
}

describe('the peer listener over TLS', () => {
  it('replicates between nodes over HTTPS, and refuses plain HTTP on the peer port', async () => {
    const files = await selfSignedCertificate();
    const tlsEnv = {
      PEER_TLS_CERT_FILE: files.cert,
      PEER_TLS_KEY_FILE: files.key,
      PEER_TLS_CA_FILE: files.cert,
    };
    const ports = await Promise.all(Array.from({ length: 4 }, () => freePort()));
    const [portA, portB, peerA, peerB] = ports as [number, number, number, number];
    const peerUrls = [peerA, peerB].map((port) => `https://127.0.0.1:${port}`) as [string, string];
    for (const [index, [port, peerPort]] of [
      [portA, peerA],
      [portB, peerB],
    ].entries()) {
      nodes.push(
        new TestNode({
          name: `kv-tls-${index}`,
          port: port!,
          peerPort: peerPort!,
          dataDir: await tempDir('kv-store-'),
          seeds: [peerUrls[1 - index]!],
          env: { ...tlsEnv, ADVERTISE_URL: peerUrls[index]!, N: '2', W: '2', R: '2' },
        }),
      );
    }
    const [a, b] = nodes as [TestNode, TestNode];
    await Promise.all([a.start(), b.start()]);
    await waitFor(() => a.node.ring.size === 2 && b.node.ring.size === 2, 'both nodes on both rings');
    expect((await a.put('k', 'over tls')).status).toBe(204);
    expect(await b.storedValues('k')).toEqual(['over tls']);

    const dispatcher = new Agent({ connect: { ca: await readFile(files.cert, 'utf8') } });
    try {
      const peer = (secret: Record<string, string>) =>
        request(`${peerUrls[0]}/internal/v1/peer`, {
          method: 'POST',
          dispatcher,
          headers: { 'content-type': 'application/json', ...secret },
          body: JSON.stringify({ type: 'read', key: 'k' }),
        });
      const refused = await peer({});
      expect(refused.statusCode).toBe(401);
      await refused.body.dump();
      const served = await peer({ 'x-cluster-secret': TEST_CLUSTER_SECRET });
      expect(served.statusCode).toBe(200);
      await served.body.dump();
    } finally {
      await dispatcher.close();
    }
    // Plain HTTP to the TLS port gets no peer answer.
    await expect(
      fetch(`http://127.0.0.1:${peerA}/internal/v1/peer`, { method: 'POST' }).then((r) => r.status),
    ).rejects.toThrow();
  });

  it('checks a dialled peer against its advertised host name, not the address PEER_DIAL_MAP dials', async () => {
    // Proves a dial map moves connections but cannot stand in for a peer: B advertises
    // https://localhost:<port>, A dials it at 127.0.0.1 through its map. B's certificate must name
    // localhost; one that names only 127.0.0.1 (the dialled address) is refused.
    const addressOnly = await selfSignedCertificate('IP:127.0.0.1');
    const named = await selfSignedCertificate('DNS:localhost,IP:127.0.0.1');
    const trusted = join(await tempDir('kv-tls-'), 'trusted.pem');
    await writeFile(
      trusted,
      `${await readFile(addressOnly.cert, 'utf8')}${await readFile(named.cert, 'utf8')}`,
    );
    const writesThroughTheMap = async (bCertificate: { cert: string; key: string }) => {
      const [portA, portB, peerA, peerB] = (await Promise.all(
        Array.from({ length: 4 }, () => freePort()),
      )) as [number, number, number, number];
      const urlA = `https://127.0.0.1:${peerA}`;
      const urlB = `https://localhost:${peerB}`;
      const shared = { PEER_TLS_CA_FILE: trusted, N: '2', W: '2', R: '2' };
      const a = new TestNode({
        name: 'kv-a',
        port: portA,
        peerPort: peerA,
        dataDir: await tempDir('kv-store-'),
        seeds: [urlB],
        env: {
          ...shared,
          PEER_TLS_CERT_FILE: named.cert,
          PEER_TLS_KEY_FILE: named.key,
          ADVERTISE_URL: urlA,
          PEER_DIAL_MAP: `${urlB}=https://127.0.0.1:${peerB}`,
        },
      });
      const b = new TestNode({
        name: 'kv-b',
        port: portB,
        peerPort: peerB,
        dataDir: await tempDir('kv-store-'),
        seeds: [urlA],
        env: {
          ...shared,
          PEER_TLS_CERT_FILE: bCertificate.cert,
          PEER_TLS_KEY_FILE: bCertificate.key,
          ADVERTISE_URL: urlB,
        },
      });
      nodes.push(a, b);
      await Promise.all([a.start(), b.start()]);
      const status = (await a.put('named', 'value', { query: '?w=2' })).status;
      await Promise.all([a.stop(), b.stop()]);
      return status;
    };
    expect(await writesThroughTheMap(named)).toBe(204);
    expect(await writesThroughTheMap(addressOnly)).toBe(503);
  });
});
