import { boolVar, ConfigError, intVar, serviceVars, splitList } from '@sysdesign/platform';
import { z } from 'zod';
import { majority } from './domain/consistency.js';

export const SERVICE_NAME = 'kv-store';
export const DEFAULT_PORT = 3002;

const KiB = 1024;
const MiB = 1024 * KiB;
const SECOND_MS = 1000;
const DAY_MS = 24 * 60 * 60 * SECOND_MS;

/** Keys are at most this many bytes of UTF-8 (the storage engine stores a 16-bit length). */
export const MAX_KEY_BYTES = 1024;
/** Most replicas per key: the coordinator's fan-out bound. */
export const MAX_REPLICATION_FACTOR = 16;
export const DEFAULT_REPLICATION_FACTOR = 3;
/** Seeds only bootstrap gossip: a handful is plenty, and the list is bounded. */
export const MAX_SEEDS = 64;
/** The peer API listens on PORT + this unless PEER_PORT says otherwise. */
export const PEER_PORT_OFFSET = 10_000;
const MAX_PORT = 65_535;
const MAX_ALLOWED_HOSTS = 256;
/** Peers a dial map may translate: as many as a cluster may have members at the most. */
export const MAX_DIAL_MAP_ENTRIES = 4_096;

/** An http(s) origin: the address peers use, and the node's identity on the ring. */
const originVar = z
  .string()
  .refine(isHttpOrigin, 'must be an http(s) URL without a path, query or fragment (e.g. http://kv-1:3002)')
  .transform(normalizeOrigin);

export const configSchema = z.object({
  ...serviceVars({ name: SERVICE_NAME, port: DEFAULT_PORT }),
  /** A readable name for logs, metrics and GET /v1/cluster. Default `kv-<PORT>`. */
  NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, dots, dashes or underscores')
    .optional(),
  /**
   * The base URL other nodes reach this one's peer API at; it is the node's identity on the ring.
   * Default http://127.0.0.1:<PEER_PORT> (https with PEER_TLS_CERT_FILE).
   */
  ADVERTISE_URL: originVar.optional(),
  /** Port of the peer API, a listener of its own (the public port has no /internal routes). Default PORT + 10000. */
  PEER_PORT: z.coerce.number().int().min(0).max(MAX_PORT).optional(),
  /** Interface the peer API binds to: the cluster's private network. Default: HOST. */
  PEER_HOST: z.string().min(1).optional(),
  /** Peer API URLs of other nodes (their ADVERTISE_URL), comma-separated. Empty: a cluster of one. */
  SEEDS: z
    .string()
    .transform(splitList)
    .pipe(z.array(originVar).max(MAX_SEEDS, `must list at most ${MAX_SEEDS} nodes`))
    .optional(),
  /** Replicas per key. Default 3, or 1 for a node without SEEDS. */
  N: z.coerce.number().int().min(1).max(MAX_REPLICATION_FACTOR).optional(),
  /** Replicas that must acknowledge a write, unless the request says otherwise. Default: a majority of N. */
  W: z.coerce.number().int().min(1).max(MAX_REPLICATION_FACTOR).optional(),
  /** Replicas that must answer a read, unless the request says otherwise. Default: a majority of N. */
  R: z.coerce.number().int().min(1).max(MAX_REPLICATION_FACTOR).optional(),
  /** Deadline of one client request across all its replica round trips. */
  REQUEST_TIMEOUT_MS: intVar(1_000, 10, 60_000),
  /** Replace replicas believed down by the next healthy nodes, which keep the write as a hint (Dynamo's sloppy quorum). */
  SLOPPY_QUORUM: boolVar(true),
  /** Keep writes a replica missed as hints and hand them back when it returns. Sloppy quorum needs it. */
  HINTED_HANDOFF: boolVar(true),
  READ_REPAIR: boolVar(true),
  HANDOFF_INTERVAL_MS: intVar(1_000, 10, 600_000),
  HINTS_MAX_KEYS: intVar(100_000, 1, 10_000_000),
  HINTS_MAX_BYTES: intVar(256 * MiB, 1 * KiB, 16 * 1024 * MiB),
  /** Hints older than this are dropped (Cassandra's max_hint_window): anti-entropy repairs the rest. */
  HINTS_MAX_AGE_MS: intVar(3 * 60 * 60 * SECOND_MS, 1_000, 30 * DAY_MS),
  /** One Merkle-tree comparison with one replica every interval; 0 turns anti-entropy off. */
  ANTI_ENTROPY_INTERVAL_MS: intVar(10_000, 0, 24 * 60 * 60 * SECOND_MS),
  /** Bandwidth bound of anti-entropy: bytes moved per round are at most this × the interval. */
  ANTI_ENTROPY_BYTES_PER_SECOND: intVar(1 * MiB, 1 * KiB, 1024 * MiB),
  ANTI_ENTROPY_MAX_KEYS_PER_ROUND: intVar(1_000, 1, 100_000),
  GOSSIP_INTERVAL_MS: intVar(1_000, 10, 60_000),
  /** A node whose heartbeat has not risen for this long is suspect. */
  GOSSIP_SUSPECT_AFTER_MS: intVar(5_000, 20, 600_000),
  /** ...and dead after this long: out of the health view (it stays on the ring). */
  GOSSIP_DEAD_AFTER_MS: intVar(15_000, 40, 3_600_000),
  /** Tombstones are kept (and repaired) this long, then compaction drops them. */
  TOMBSTONE_GRACE_MS: intVar(10 * DAY_MS, 0, 365 * DAY_MS),
  /** `always`: fsync before acknowledging (grouped). `interval`: acknowledge after write(2), fsync every FSYNC_INTERVAL_MS. */
  FSYNC: z.enum(['always', 'interval']).default('always'),
  FSYNC_INTERVAL_MS: intVar(100, 1, 60_000),
  MEMTABLE_BYTES: intVar(4 * MiB, 64 * KiB, 1024 * MiB),
  /** Largest value a client may write (413 beyond). */
  MAX_VALUE_BYTES: intVar(1 * MiB, 1, 16 * MiB),
  /** New writes that would leave more concurrent versions of a key are refused (409). */
  MAX_SIBLINGS: intVar(64, 1, 64),
  /**
   * New writes that would leave a key's siblings larger than this (values, clocks, dots) are
   * refused (409); a write that leaves one version never is. A read answers at most this many
   * bytes of values. At least MAX_VALUE_BYTES.
   */
  MAX_SIBLINGS_BYTES: intVar(8 * MiB, 1 * KiB, 32 * MiB),
  /** Virtual nodes per node on the consistent-hashing ring. */
  VNODES: intVar(256, 1, 4_096),
  /**
   * Peers authenticate with it (header x-cluster-secret). Required with SEEDS, unless
   * CLUSTER_SECRET_FILE is given. Without either, the node serves no peer API (a cluster of one).
   */
  CLUSTER_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** A file holding the cluster secret (a Docker or Kubernetes secret); made with a random one (mode 0600) when absent. */
  CLUSTER_SECRET_FILE: z.string().min(1).optional(),
  /** Hosts whose addresses may become members, comma-separated. Default: the seeds' hosts and this node's. */
  PEER_ALLOWED_HOSTS: z
    .string()
    .transform(splitList)
    .pipe(
      z
        .array(z.string().refine(isHostName, 'must list host names or IP addresses'))
        .max(MAX_ALLOWED_HOSTS, `must list at most ${MAX_ALLOWED_HOSTS} hosts`),
    )
    .optional(),
  /**
   * Where to dial peers whose advertised URL is not where this node can reach them (NAT, a proxy,
   * a port forward): `ADVERTISED=DIAL` pairs of origins, comma-separated. Identity stays the
   * advertised URL (ring, vector clocks, admission); only the TCP destination changes.
   */
  PEER_DIAL_MAP: z.string().transform(parseDialMap).optional(),
  /** Most members (and members heard of but not yet reached) a node keeps; a longer gossip is refused. */
  MAX_CLUSTER_MEMBERS: intVar(128, 2, 4_096),
  /** A member silent this long leaves the ring (its hints are dropped); it joins again when it answers. */
  DEAD_MEMBER_REMOVAL_MS: intVar(60 * 60 * SECOND_MS, 1_000, 30 * DAY_MS),
  /** Serve the peer API over HTTPS with this certificate (PEM) and PEER_TLS_KEY_FILE. */
  PEER_TLS_CERT_FILE: z.string().min(1).optional(),
  PEER_TLS_KEY_FILE: z.string().min(1).optional(),
  /** Trust these CAs (PEM) when calling peers over HTTPS, besides the system's. */
  PEER_TLS_CA_FILE: z.string().min(1).optional(),
  /** Largest peer message (a batch of sibling sets in JSON, values in base64). */
  PEER_BODY_LIMIT_BYTES: intVar(128 * MiB, 1 * MiB, 1024 * MiB),
  /** Keep-alive connections to each peer. */
  PEER_CONNECTIONS: intVar(32, 1, 1_024),
});

export type Config = z.infer<typeof configSchema>;

/** Replication numbers: N replicas per key, W acknowledgements per write, R answers per read. */
export interface Replication {
  n: number;
  w: number;
  r: number;
}

/** Where the peer API listens, and who may join. */
export interface PeerSettings {
  /** False without a cluster secret: no peer API, a cluster of one. */
  enabled: boolean;
  host: string;
  port: number;
  tls: boolean;
  /** Host names (lower case, IPv6 in brackets as URLs spell them) whose addresses may become members. */
  allowedHosts: ReadonlySet<string>;
  /** Advertised peer origin -> the origin to open connections to (PEER_DIAL_MAP); empty: dial as advertised. */
  dialMap: ReadonlyMap<string, string>;
}

/** The cluster part of the configuration, resolved: defaults that depend on other variables filled in. */
export interface ClusterSettings {
  nodeId: string;
  /** This node's identity on the ring and in vector clocks: its advertised peer API URL. */
  url: string;
  /** Other nodes' peer API URLs, without this node's. */
  seeds: string[];
  replication: Replication;
  peer: PeerSettings;
}

/** Resolves NODE_ID, ADVERTISE_URL, the peer listener and N/W/R; throws a ConfigError naming each bad variable. */
export function clusterSettings(config: Config): ClusterSettings {
  const problems: string[] = [];
  const peerPort = config.PEER_PORT ?? (config.PORT === 0 ? 0 : config.PORT + PEER_PORT_OFFSET);
  if (peerPort > MAX_PORT)
    problems.push(`PEER_PORT: PORT + ${PEER_PORT_OFFSET} is above ${MAX_PORT}; set PEER_PORT`);
  const tls = config.PEER_TLS_CERT_FILE !== undefined;
  if (tls !== (config.PEER_TLS_KEY_FILE !== undefined)) {
    problems.push('PEER_TLS_KEY_FILE: give both PEER_TLS_CERT_FILE and PEER_TLS_KEY_FILE, or neither');
  }
  const url = config.ADVERTISE_URL ?? `${tls ? 'https' : 'http'}://127.0.0.1:${Math.min(peerPort, MAX_PORT)}`;
  const seeds = [...new Set(config.SEEDS ?? [])].filter((seed) => seed !== url);
  const enabled = config.CLUSTER_SECRET !== undefined || config.CLUSTER_SECRET_FILE !== undefined;
  if (seeds.length > 0 && !enabled) {
    problems.push('CLUSTER_SECRET: required with SEEDS (or CLUSTER_SECRET_FILE): peers authenticate with it');
  }
  const allowedHosts = allowedHostsOf(config, url, seeds, problems);
  const dialMap = config.PEER_DIAL_MAP ?? new Map<string, string>();
  checkDialMap(dialMap, url, allowedHosts, problems);
  const n = config.N ?? (seeds.length === 0 ? 1 : DEFAULT_REPLICATION_FACTOR);
  const replication = { n, w: config.W ?? majority(n), r: config.R ?? majority(n) };
  if (replication.w > n) problems.push(`W: must be at most N (${n}), got ${replication.w}`);
  if (replication.r > n) problems.push(`R: must be at most N (${n}), got ${replication.r}`);
  if (config.SLOPPY_QUORUM && !config.HINTED_HANDOFF) {
    problems.push(
      'HINTED_HANDOFF: sloppy quorum needs hinted handoff (set SLOPPY_QUORUM=false to turn both off)',
    );
  }
  if (config.MAX_SIBLINGS_BYTES < config.MAX_VALUE_BYTES) {
    problems.push(`MAX_SIBLINGS_BYTES: must be at least MAX_VALUE_BYTES (${config.MAX_VALUE_BYTES})`);
  }
  if (config.GOSSIP_DEAD_AFTER_MS <= config.GOSSIP_SUSPECT_AFTER_MS) {
    problems.push('GOSSIP_DEAD_AFTER_MS: must be greater than GOSSIP_SUSPECT_AFTER_MS');
  }
  if (config.DEAD_MEMBER_REMOVAL_MS <= config.GOSSIP_DEAD_AFTER_MS) {
    problems.push('DEAD_MEMBER_REMOVAL_MS: must be greater than GOSSIP_DEAD_AFTER_MS');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const host = config.PEER_HOST ?? config.HOST;
  return {
    nodeId: config.NODE_ID ?? `kv-${config.PORT}`,
    url,
    seeds,
    replication,
    peer: { enabled, host, port: peerPort, tls, allowedHosts, dialMap },
  };
}

/** PEER_ALLOWED_HOSTS, or the seeds' hosts and this node's; every seed's host must be in it. */
function allowedHostsOf(
  config: Config,
  url: string,
  seeds: readonly string[],
  problems: string[],
): Set<string> {
  const seedHosts = seeds.map(hostOf);
  if (config.PEER_ALLOWED_HOSTS === undefined) return new Set([hostOf(url), ...seedHosts]);
  const allowed = new Set(config.PEER_ALLOWED_HOSTS.map((host) => hostOf(`http://${host}`)));
  const missing = seedHosts.filter((host) => !allowed.has(host));
  if (missing.length > 0) {
    problems.push(
      `PEER_ALLOWED_HOSTS: must include every seed's host (missing ${[...new Set(missing)].join(', ')})`,
    );
  }
  return allowed;
}

/**
 * PEER_DIAL_MAP's `ADVERTISED=DIAL` pairs: both http(s) origins with the same scheme (a dial map
 * moves connections, it never turns TLS off), each advertised origin once, at most
 * MAX_DIAL_MAP_ENTRIES of them.
 */
function parseDialMap(value: string, context: z.RefinementCtx): Map<string, string> {
  const entries = splitList(value);
  const refuse = (message: string) => {
    context.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  if (entries.length > MAX_DIAL_MAP_ENTRIES) return refuse(`must list at most ${MAX_DIAL_MAP_ENTRIES} pairs`);
  const map = new Map<string, string>();
  for (const entry of entries) {
    const shown = JSON.stringify(entry.slice(0, 120));
    const parts = entry.split('=');
    const [advertised, dial] = parts.map((part) => part.trim());
    if (parts.length !== 2 || !isHttpOrigin(advertised ?? '') || !isHttpOrigin(dial ?? '')) {
      return refuse(
        `${shown} is not ADVERTISED=DIAL, two http(s) origins (e.g. http://kv-2:13002=http://10.0.0.7:31002)`,
      );
    }
    const from = normalizeOrigin(advertised as string);
    const to = normalizeOrigin(dial as string);
    if (new URL(from).protocol !== new URL(to).protocol) return refuse(`${shown} changes the scheme`);
    if (map.has(from)) return refuse(`${from} is listed twice`);
    map.set(from, to);
  }
  return map;
}

/**
 * A dial map names peers, never this node, and only peers that may become members: an entry for
 * a host outside PEER_ALLOWED_HOSTS would never be dialled, so it is a mistake worth naming.
 */
function checkDialMap(
  dialMap: ReadonlyMap<string, string>,
  url: string,
  allowedHosts: ReadonlySet<string>,
  problems: string[],
): void {
  for (const advertised of dialMap.keys()) {
    if (advertised === url) problems.push(`PEER_DIAL_MAP: ${advertised} is this node's own ADVERTISE_URL`);
    else if (!allowedHosts.has(hostOf(advertised)))
      problems.push(`PEER_DIAL_MAP: ${advertised} is not on an allowed host (PEER_ALLOWED_HOSTS)`);
    else if (new URL(advertised).protocol !== new URL(url).protocol)
      problems.push(`PEER_DIAL_MAP: ${advertised} has another scheme than this node's ADVERTISE_URL`);
  }
}

/** The host part of a URL as WHATWG URLs spell it (lower case, IPv6 in brackets). */
export function hostOf(url: string): string {
  return new URL(url).hostname;
}

function isHostName(value: string): boolean {
  // A port is not part of a host ("kv-1:80" would otherwise pass as kv-1, the default port dropped).
  const afterIpv6 = value.startsWith('[') ? value.slice(value.indexOf(']') + 1) : value;
  if (afterIpv6.includes(':')) return false;
  try {
    const url = new URL(`http://${value}`);
    return url.hostname.length > 0 && url.pathname === '/' && url.username === '';
  } catch {
    return false;
  }
}

function isHttpOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    const bare =
      url.pathname === '/' &&
      url.search === '' &&
      url.hash === '' &&
      url.username === '' &&
      url.password === '';
    return (url.protocol === 'http:' || url.protocol === 'https:') && bare;
  } catch {
    return false;
  }
}

/** `http://Kv-1:3002/` -> `http://kv-1:3002`: one spelling per node, since it is the node's id. */
export function normalizeOrigin(value: string): string {
  return new URL(value).origin;
}
