import { ConfigError, loadConfig } from '@sysdesign/platform';
import { describe, expect, it } from 'vitest';
import { clusterSettings, configSchema } from '../../src/config.js';
import { EMBEDDED_NODES } from '../../src/service.js';

/** Configuration: defaults that depend on other variables, and bad values named at start. */

const settingsOf = (env: Record<string, string>) => clusterSettings(loadConfig(configSchema, env));

describe('configuration', () => {
  it('defaults to N = 3, W = R = 2 with seeds, and to a cluster of one without', () => {
    // Proves a lone node works out of the box, and a cluster gets the textbook defaults.
    expect(settingsOf({}).replication).toEqual({ n: 1, w: 1, r: 1 });
    expect(settingsOf({ SEEDS: 'http://b:3021,http://c:3022' }).replication).toEqual({ n: 3, w: 2, r: 2 });
    expect(settingsOf({ SEEDS: 'http://b:3021', N: '5' }).replication).toEqual({ n: 5, w: 3, r: 3 });
  });

  it('derives the node id and URL from the port, normalises seeds and drops itself from them', () => {
    // Proves one spelling per node URL (it is the node's identity on the ring).
    const settings = settingsOf({
      PORT: '3021',
      SEEDS: 'http://127.0.0.1:3021/, HTTP://Kv-1:3002 ,http://kv-1:3002',
    });
    expect(settings.nodeId).toBe('kv-3021');
    expect(settings.url).toBe('http://127.0.0.1:3021');
    expect(settings.seeds).toEqual(['http://kv-1:3002']);
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
    ] as const) {
      expect(() => loadConfig(configSchema, env), variable).toThrow(new RegExp(variable));
    }
    for (const [env, variable] of [
      [{ N: '3', W: '4' }, 'W'],
      [{ N: '2', R: '3' }, 'R'],
      [{ HINTED_HANDOFF: 'false' }, 'HINTED_HANDOFF'],
      [{ GOSSIP_SUSPECT_AFTER_MS: '5000', GOSSIP_DEAD_AFTER_MS: '5000' }, 'GOSSIP_DEAD_AFTER_MS'],
    ] as const) {
      expect(() => settingsOf(env), variable).toThrow(ConfigError);
      expect(() => settingsOf(env), variable).toThrow(new RegExp(variable));
    }
  });

  it('starts three embedded nodes on 3002, 3021 and 3022, each seeded with the other two', () => {
    // Proves `pnpm start` runs a full N = 3 cluster with its own data directory per node.
    expect(EMBEDDED_NODES.map((node) => node.port)).toEqual([3002, 3021, 3022]);
    for (const node of EMBEDDED_NODES) {
      const settings = settingsOf({ ...node.env, PORT: String(node.port) });
      expect(settings.seeds).toHaveLength(2);
      expect(settings.seeds).not.toContain(settings.url);
      expect(settings.replication).toEqual({ n: 3, w: 2, r: 2 });
      expect(node.env.DATA_DIR).toBe(`./data/kv-store/${node.name}`);
    }
  });
});
