import { type Clock, createLogger, loadConfig, type ServiceApp } from '@sysdesign/platform';
import type { Version } from '@sysdesign/quorum';
import { decodeResponse, encodeRequest } from '@sysdesign/quorum/wire';
import { freePort, startLocalCluster } from '@sysdesign/testkit';
import { configSchema } from '../src/config.js';
import type { KvNode } from '../src/node.js';
import { buildService, kvNodeOf } from '../src/service.js';
import type { LinkFilter } from '../src/transport/http-transport.js';

/** Fast timers for tests: gossip rounds of 50 ms, suspicion after 400 ms, handoff every 50 ms. */
export const FAST_CLUSTER_ENV: Record<string, string> = {
  LOG_LEVEL: 'silent',
  FSYNC: 'interval',
  FSYNC_INTERVAL_MS: '20',
  GOSSIP_INTERVAL_MS: '50',
  GOSSIP_SUSPECT_AFTER_MS: '400',
  GOSSIP_DEAD_AFTER_MS: '1200',
  HANDOFF_INTERVAL_MS: '50',
  ANTI_ENTROPY_INTERVAL_MS: '0',
  REQUEST_TIMEOUT_MS: '2000',
};

/** The secret test clusters share (peers authenticate with it). */
export const TEST_CLUSTER_SECRET = 'test-cluster-secret-of-enough-length';

/** Links between in-process nodes that a test can cut (both directions) and heal. */
export class NetworkSwitch {
  private readonly cut = new Set<string>();

  readonly filter: LinkFilter = (from, to) => !this.cut.has(`${from} ${to}`);

  /** Cuts every link between a node of `left` and a node of `right`. */
  partition(left: readonly TestNode[], right: readonly TestNode[]): void {
    for (const a of left) {
      for (const b of right) {
        this.cut.add(`${a.url} ${b.url}`);
        this.cut.add(`${b.url} ${a.url}`);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }
}

export interface TestNodeSpec {
  name: string;
  /** The public (client API) port. */
  port: number;
  /** The peer API's port: the node's identity is http://127.0.0.1:<peerPort>. */
  peerPort: number;
  dataDir: string;
  seeds: string[];
  env: Record<string, string>;
  links?: LinkFilter;
  /** The node's wall clock (a skewed one); the system's unless given. */
  clock?: Clock;
}

/** One in-process node listening on 127.0.0.1; `stop` closes it cleanly, `restart` opens it again on its data. */
export class TestNode {
  app: ServiceApp | undefined;
  readonly spec: TestNodeSpec;

  constructor(spec: TestNodeSpec) {
    this.spec = spec;
  }

  /** The node's identity on the ring: its peer API's URL. */
  get url(): string {
    return `http://127.0.0.1:${this.spec.peerPort}`;
  }

  /** The client API's URL. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.spec.port}`;
  }

  get running(): boolean {
    return this.app !== undefined;
  }

  get node(): KvNode {
    if (this.app === undefined) throw new Error(`${this.spec.name} is stopped`);
    return kvNodeOf(this.app);
  }

  async start(): Promise<void> {
    const config = loadConfig(configSchema, {
      ...FAST_CLUSTER_ENV,
      CLUSTER_SECRET: TEST_CLUSTER_SECRET,
      PEER_HOST: '127.0.0.1',
      ...this.spec.env,
      NODE_ID: this.spec.name,
      PORT: String(this.spec.port),
      PEER_PORT: String(this.spec.peerPort),
      DATA_DIR: this.spec.dataDir,
      SEEDS: this.spec.seeds.join(','),
    });
    const app = await buildService(
      config,
      { logger: createLogger(config.LOG_LEVEL) },
      {
        ...(this.spec.links === undefined ? {} : { links: this.spec.links }),
        ...(this.spec.clock === undefined ? {} : { clock: this.spec.clock }),
      },
    );
    await app.listen({ host: '127.0.0.1', port: this.spec.port });
    this.app = app;
  }

  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    await app?.close();
  }

  /** The client API of this node (fetch over the real socket). */
  request(
    method: string,
    path: string,
    init: { body?: string | Uint8Array; headers?: Record<string, string> } = {},
  ) {
    return fetch(this.apiUrl + path, { method, ...init, signal: AbortSignal.timeout(10_000) });
  }

  put(key: string, value: string, options: { context?: string | null; query?: string } = {}) {
    const headers: Record<string, string> = {};
    if (options.context) headers['x-context'] = options.context;
    return this.request('PUT', `/v1/kv/${encodeURIComponent(key)}${options.query ?? ''}`, {
      body: value,
      headers,
    });
  }

  get(key: string, query = '') {
    return this.request('GET', `/v1/kv/${encodeURIComponent(key)}${query}`);
  }

  /** What this node's own disk (and hint store) holds for `key`, through the peer protocol. */
  async localVersions(key: string): Promise<Version[]> {
    const response = await peerRequest(this.url, encodeRequest({ type: 'read', key }));
    if (response.status !== 200)
      throw new Error(`peer read answered ${response.status}: ${await response.text()}`);
    const decoded = decodeResponse(await response.json());
    if (decoded.type !== 'versions') throw new Error(`unexpected ${decoded.type}`);
    return decoded.versions;
  }

  /** Live values in this node's own store (not hints) for `key`. */
  async storedValues(key: string): Promise<string[]> {
    const versions = await this.node.quorum.replica.read(key);
    return liveTexts(versions);
  }
}

/** One peer request, with the test cluster's secret unless `secret` says otherwise (null: none). */
export function peerRequest(peerUrl: string, message: unknown, secret: string | null = TEST_CLUSTER_SECRET) {
  return fetch(`${peerUrl}/internal/v1/peer`, {
    method: 'POST',
    body: typeof message === 'string' ? message : JSON.stringify(message),
    headers: {
      'content-type': 'application/json',
      ...(secret === null ? {} : { 'x-cluster-secret': secret }),
    },
    signal: AbortSignal.timeout(10_000),
  });
}

export function liveTexts(versions: readonly Version[]): string[] {
  return versions
    .filter((version) => version.value !== null)
    .map((version) => Buffer.from(version.value!).toString('utf8'))
    .sort();
}

export interface TestCluster {
  nodes: TestNode[];
  stop(): Promise<void>;
}

/**
 * `size` in-process kv nodes (testkit's local cluster: free ports, a data directory each, removed
 * after the test), each with a free peer port and the test secret, the others' peer APIs as seeds. Stop them with `cluster.stop()` (tests register it in afterEach).
 */
export async function startCluster(
  size: number,
  options: { env?: Record<string, string>; links?: NetworkSwitch } = {},
): Promise<TestCluster> {
  const peerPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const peerUrls = peerPorts.map((port) => `http://127.0.0.1:${port}`);
  const cluster = await startLocalCluster(
    size,
    (slot) =>
      new TestNode({
        name: `kv-${slot.index + 1}`,
        port: slot.port,
        peerPort: peerPorts[slot.index]!,
        dataDir: slot.dataDir,
        seeds: peerUrls.filter((_, other) => other !== slot.index),
        env: options.env ?? {},
        ...(options.links === undefined ? {} : { links: options.links.filter }),
      }),
    { dataDirPrefix: 'kv-store-' },
  );
  return { nodes: cluster.nodes, stop: cluster.stop };
}

/**
 * The writes the cluster acknowledged, per key, for the check after each fault: every key must
 * still read back its last acknowledged value (keys are written one writer at a time, so the last
 * acknowledgement is the value).
 */
export class History {
  private readonly latest = new Map<string, string>();

  acknowledged(key: string, value: string): void {
    this.latest.set(key, value);
  }

  get size(): number {
    return this.latest.size;
  }

  entries(): Array<[string, string]> {
    return [...this.latest.entries()];
  }

  /** Keys whose value on `read` is not the acknowledged one, as messages (empty when all match). */
  async missing(read: (key: string) => Promise<string[]>): Promise<string[]> {
    const problems: string[] = [];
    for (const [key, value] of this.latest) {
      const values = await read(key);
      if (!values.includes(value)) problems.push(`${key}: expected ${value}, found [${values.join(', ')}]`);
    }
    return problems;
  }
}
