import { ConfigError, loadConfig } from '@sysdesign/platform';
import { describe, expect, it } from 'vitest';
import { clusterSettings, configSchema, MAX_DIAL_MAP_ENTRIES } from '../../src/config.js';
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

  it('reads PEER_DIAL_MAP as advertised origin -> dial origin, and refuses every malformed or useless pair', () => {
    // Proves the dial map is bounded, origins only, never changes the scheme, and names only peers
    // that may become members: a mistake fails the start with PEER_DIAL_MAP named.
    const seeds = { SEEDS: 'http://kv-2:13002,http://kv-3:13002', ...SECRET };
    const settings = settingsOf({
      ...seeds,
      PEER_DIAL_MAP: ' HTTP://Kv-2:13002/ = http://127.0.0.1:40002 ,http://kv-3:13002=http://10.0.0.7:31002',
    });
    expect([...settings.peer.dialMap]).toEqual([
      ['http://kv-2:13002', 'http://127.0.0.1:40002'],
      ['http://kv-3:13002', 'http://10.0.0.7:31002'],
    ]);
    expect(settingsOf(seeds).peer.dialMap.size).toBe(0);
    const tooMany = Array.from(
      { length: MAX_DIAL_MAP_ENTRIES + 1 },
      (_, index) => `http://kv-2:${index + 1}=http://127.0.0.1:${index + 1}`,
    ).join(',');
    for (const [dialMap, why] of [
      ['http://kv-2:13002', /ADVERTISED=DIAL/],
      ['http://kv-2:13002=http://127.0.0.1:1/path', /ADVERTISED=DIAL/],
      ['http://kv-2:13002=http://a:1=http://b:2', /ADVERTISED=DIAL/],
      ['kv-2:13002=127.0.0.1:1', /ADVERTISED=DIAL/],
      ['http://kv-2:13002=https://127.0.0.1:1', /changes the scheme/],
      ['http://kv-2:13002=http://a:1,http://KV-2:13002=http://b:1', /listed twice/],
      [tooMany, /at most 4096/],
      ['http://elsewhere:13002=http://127.0.0.1:1', /not on an allowed host/],
      ['http://127.0.0.1:13002=http://127.0.0.1:1', /own ADVERTISE_URL/],
    ] as const) {
      const env = {
        ...seeds,
        PORT: '3002',
        PEER_ALLOWED_HOSTS: 'kv-2,kv-3,127.0.0.1',
        PEER_DIAL_MAP: dialMap,
      };
      expect(() => settingsOf(env), dialMap.slice(0, 60)).toThrow(ConfigError);
      expect(() => settingsOf(env), dialMap.slice(0, 60)).toThrow(/PEER_DIAL_MAP/);
      expect(() => settingsOf(env), dialMap.slice(0, 60)).toThrow(why);
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
