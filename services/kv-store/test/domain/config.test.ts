import { ConfigError, loadConfig } from '@sysdesign/platform';
import { describe, expect, it } from 'vitest';
import { clusterSettings, configSchema } from '../../src/config.js';
import { EMBEDDED_NODES } from '../../src/service.js';

/** Configuration: defaults that depend on other variables, and bad values named at start. */

const settingsOf = (env: Record<string, string>) => clusterSettings(loadConfig(configSchema, env));
const SECRET = { CLUSTER_SECRET: 'a-secret-of-enough-length' };

describe('configuration', () => {
  it('defaults to N = 3, W = R = 2 with seeds, and to a cluster of one without', () => {
    // Proves a lone node works out of the box, and a cluster gets the textbook defaults.
    expect(settingsOf({}).replication).toEqual({ n: 1, w: 1, r: 1 });
    expect(settingsOf({ SEEDS: 'http://b:3021,http://c:3022', ...SECRET }).replication).toEqual({
      n: 3,
      w: 2,
      r: 2,
    });
    expect(settingsOf({ SEEDS: 'http://b:3021', N: '5', ...SECRET }).replication).toEqual({
      n: 5,
      w: 3,
      r: 3,
    });
  });

  it('derives the node id and URL from the port, normalises seeds and drops itself from them', () => {
    // Proves one spelling per node URL (it is the node's identity on the ring: its peer API, PORT + 10000).
    const settings = settingsOf({
      PORT: '3021',
      SEEDS: 'http://127.0.0.1:13021/, HTTP://Kv-1:13002 ,http://kv-1:13002',
      ...SECRET,
    });
    expect(settings.nodeId).toBe('kv-3021');
    expect(settings.url).toBe('http://127.0.0.1:13021');
    expect(settings.peer).toMatchObject({ enabled: true, port: 13021, host: '0.0.0.0', tls: false });
    expect(settings.seeds).toEqual(['http://kv-1:13002']);
    expect([...settings.peer.allowedHosts].sort()).toEqual(['127.0.0.1', 'kv-1']);
    expect(settingsOf({ ADVERTISE_URL: 'http://kv-2:3002/' }).url).toBe('http://kv-2:3002');
  });

  it('names every bad variable', () => {
    // Proves bad configuration fails at start with one message per variable.
    for (const [env, variable] of [
      [{ SEEDS: 'kv-2:3002' }, 'SEEDS'],
      [{ SEEDS: 'http://kv-2:3002/path' }, 'SEEDS'],
      [{ ADVERTISE_URL: 'ftp://x' }, 'ADVERTISE_URL'],
      [{ N: '17' }, 'N'],
      [{ NODE_ID: 'has space' }, 'NODE_ID'],
      [{ FSYNC: 'sometimes' }, 'FSYNC'],
      [{ MAX_VALUE_BYTES: '0' }, 'MAX_VALUE_BYTES'],
      [{ CLUSTER_SECRET: 'short' }, 'CLUSTER_SECRET'],
      [{ PEER_ALLOWED_HOSTS: 'kv-1:80' }, 'PEER_ALLOWED_HOSTS'],
      [{ MAX_CLUSTER_MEMBERS: '1' }, 'MAX_CLUSTER_MEMBERS'],
    ] as const) {
      expect(() => loadConfig(configSchema, env), variable).toThrow(new RegExp(variable));
    }
    for (const [env, variable] of [
      [{ N: '3', W: '4' }, 'W'],
      [{ N: '2', R: '3' }, 'R'],
      [{ HINTED_HANDOFF: 'false' }, 'HINTED_HANDOFF'],
      [{ GOSSIP_SUSPECT_AFTER_MS: '5000', GOSSIP_DEAD_AFTER_MS: '5000' }, 'GOSSIP_DEAD_AFTER_MS'],
      [{ GOSSIP_DEAD_AFTER_MS: '15000', DEAD_MEMBER_REMOVAL_MS: '15000' }, 'DEAD_MEMBER_REMOVAL_MS'],
      [{ PORT: '60000' }, 'PEER_PORT'],
      [{ PEER_TLS_CERT_FILE: '/cert.pem' }, 'PEER_TLS_KEY_FILE'],
      [{ SEEDS: 'http://kv-2:13002', ...SECRET, PEER_ALLOWED_HOSTS: 'kv-3' }, 'PEER_ALLOWED_HOSTS'],
    ] as const) {
      expect(() => settingsOf(env), variable).toThrow(ConfigError);
      expect(() => settingsOf(env), variable).toThrow(new RegExp(variable));
    }
  });

  it('refuses a node with SEEDS and no cluster secret, naming CLUSTER_SECRET', () => {
    // Proves a cluster never runs with an open peer API: the secret is required, not optional.
    expect(() => settingsOf({ SEEDS: 'http://kv-2:13002' })).toThrow(ConfigError);
    expect(() => settingsOf({ SEEDS: 'http://kv-2:13002' })).toThrow(/CLUSTER_SECRET: required with SEEDS/);
    expect(
      settingsOf({ SEEDS: 'http://kv-2:13002', CLUSTER_SECRET_FILE: '/run/secrets/kv' }).peer.enabled,
    ).toBe(true);
    expect(settingsOf({}).peer.enabled).toBe(false);
  });

  it('starts three embedded nodes on 3002, 3021 and 3022, each seeded with the other two peer APIs', () => {
    // Proves `pnpm start` runs a full N = 3 cluster with its own data directory per node and one secret file.
    expect(EMBEDDED_NODES.map((node) => node.port)).toEqual([3002, 3021, 3022]);
    const urls = EMBEDDED_NODES.map((node) => settingsOf({ ...node.env, PORT: String(node.port) }).url);
    expect(urls).toEqual(['http://127.0.0.1:13002', 'http://127.0.0.1:13021', 'http://127.0.0.1:13022']);
    for (const node of EMBEDDED_NODES) {
      const settings = settingsOf({ ...node.env, PORT: String(node.port) });
      expect(settings.seeds).toEqual(urls.filter((url) => url !== settings.url));
      expect(settings.replication).toEqual({ n: 3, w: 2, r: 2 });
      expect(settings.peer).toMatchObject({ enabled: true, host: '127.0.0.1' });
      expect(node.env.DATA_DIR).toBe(`./data/kv-store/${node.name}`);
      expect(node.env.CLUSTER_SECRET_FILE).toBe('./data/kv-store/cluster-secret');
      expect(node.env.CLUSTER_SECRET).toBeUndefined();
    }
  });
});
