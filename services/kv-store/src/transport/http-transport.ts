import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import {
  type NodeId,
  type PeerRequest,
  type PeerResponse,
  QuorumError,
  QuorumErrorCode,
  type RequestOptions,
  type Transport,
} from '@sysdesign/quorum';
import { decodeResponse, encodeRequest, type WireLimits } from '@sysdesign/quorum/wire';
import { Pool } from 'undici';
import type { ClusterSecret } from './peer-credentials.js';

/**
 * Node-to-node messages over HTTP(S): every peer request is a POST of the library's JSON codec to
 * `${peer}/internal/v1/peer` on the peer's own peer listener (routes/peer.ts), carrying the cluster
 * secret in `x-cluster-secret`, on one keep-alive undici Pool per peer, with the
 * request's deadline as an abort signal. Failures become the library's `QuorumError`s: a deadline
 * is TIMEOUT, a refused or reset connection UNREACHABLE, and an error answer keeps the peer's
 * library code (HINTS_FULL, TOO_MANY_SIBLINGS...) from its problem+json `quorumCode`.
 *
 * A peer is named by its advertised URL; `dialMap` (PEER_DIAL_MAP) may say to open its connections
 * somewhere else (a NAT's outside address, a proxy), as Kafka's advertised listeners and Cassandra
 * drivers' address translators do. Only the TCP destination changes: the request still carries
 * the cluster secret and names the advertised peer, and over HTTPS the certificate must still name
 * the advertised host, so a translation can move traffic but cannot stand in for a peer.
 */

export const PEER_PATH = '/internal/v1/peer';
export const CLUSTER_SECRET_HEADER = 'x-cluster-secret';
/** The sender's advertised URL and readable name, so a peer can tell who called. */
export const FROM_HEADER = 'x-kv-from';
export const NODE_ID_HEADER = 'x-kv-node-id';
/** Pools are closed gracefully on shutdown, then destroyed if requests still hang after this. */
const CLOSE_GRACE_MS = 2_000;
/** Idle keep-alive sockets are kept this long. */
const KEEP_ALIVE_TIMEOUT_MS = 30_000;

const quorumCodes = new Set<string>(Object.values(QuorumErrorCode));

/** Which links are up; tests cut them to partition in-process nodes. Absent: every link is up. */
export type LinkFilter = (from: NodeId, to: NodeId) => boolean;

export interface HttpTransportOptions {
  self: NodeId;
  nodeId: string;
  secret?: ClusterSecret | undefined;
  /** CAs trusted for https peers, besides the system's. */
  ca?: string | undefined;
  connectionsPerPeer: number;
  wireLimits: WireLimits;
  links?: LinkFilter | undefined;
  /** Advertised peer origin -> origin to connect to; peers not in it are dialled as advertised. */
  dialMap?: ReadonlyMap<NodeId, string> | undefined;
  /** Called with each peer's readable name when it answers (GET /v1/cluster shows it). */
  onPeerName?: (peer: NodeId, name: string) => void;
}

export class HttpTransport implements Transport {
  private readonly options: HttpTransportOptions;
  private readonly pools = new Map<NodeId, Pool>();
  private readonly headers: Record<string, string>;
  private closed = false;

  constructor(options: HttpTransportOptions) {
    this.options = options;
    this.headers = {
      'content-type': 'application/json',
      [FROM_HEADER]: options.self,
      [NODE_ID_HEADER]: options.nodeId,
      ...(options.secret === undefined ? {} : { [CLUSTER_SECRET_HEADER]: options.secret.reveal() }),
    };
  }

  async request(to: NodeId, message: PeerRequest, { timeoutMs }: RequestOptions): Promise<PeerResponse> {
    if (this.options.links !== undefined && !this.options.links(this.options.self, to)) {
      throw new QuorumError(QuorumErrorCode.UNREACHABLE, `link to ${to} cut`);
    }
    const pool = this.poolFor(to);
    const signal = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)));
    let statusCode: number;
    let text: string;
    let name: string | string[] | undefined;
    try {
      const response = await pool.request({
        path: PEER_PATH,
        method: 'POST',
        headers: this.headers,
        body: JSON.stringify(encodeRequest(message)),
        signal,
      });
      statusCode = response.statusCode;
      name = response.headers[NODE_ID_HEADER];
      text = await response.body.text();
    } catch (error) {
      if (signal.aborted)
        throw new QuorumError(QuorumErrorCode.TIMEOUT, `${to} gave no answer within ${timeoutMs} ms`);
      throw new QuorumError(QuorumErrorCode.UNREACHABLE, describe(error));
    }
    if (typeof name === 'string') this.options.onPeerName?.(to, name);
    if (statusCode !== 200) throw remoteError(to, statusCode, text);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new QuorumError(QuorumErrorCode.REMOTE, `${to} answered with a body that is not JSON`);
    }
    return decodeResponse(json, this.options.wireLimits);
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(
      pools.map(async (pool) => {
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), CLOSE_GRACE_MS);
        });
        const outcome = await Promise.race([pool.close().then(() => 'closed' as const), graceOver]);
        clearTimeout(timer);
        if (outcome === 'timeout') await pool.destroy();
      }),
    );
  }

  private poolFor(to: NodeId): Pool {
    let pool = this.pools.get(to);
    if (pool !== undefined) return pool;
    if (this.closed) throw new QuorumError(QuorumErrorCode.STOPPED, 'the transport is closed');
    let origin: string;
    try {
      origin = new URL(to).origin;
    } catch {
      throw new QuorumError(
        QuorumErrorCode.UNREACHABLE,
        `${JSON.stringify(to.slice(0, 80))} is not a node URL`,
      );
    }
    const dial = this.options.dialMap?.get(origin) ?? origin;
    const connect = tlsOptionsFor(origin, dial, this.options.ca);
    pool = new Pool(dial, {
      connections: this.options.connectionsPerPeer,
      pipelining: 1,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      ...(connect === undefined ? {} : { connect }),
    });
    this.pools.set(to, pool);
    return pool;
  }
}

interface PeerTlsOptions {
  ca?: string;
  servername?: string;
  checkServerIdentity?: (host: string, certificate: PeerCertificate) => Error | undefined;
}

/**
 * TLS settings for connections to `advertised` opened at `dial`: the trusted CAs, and when the two
 * differ, the advertised host as the name sent (SNI, for host names) and checked in the
 * certificate, instead of the dialled address.
 */
function tlsOptionsFor(advertised: string, dial: string, ca: string | undefined): PeerTlsOptions | undefined {
  const translated = dial !== advertised && new URL(advertised).protocol === 'https:';
  if (!translated) return ca === undefined ? undefined : { ca };
  // URL spells IPv6 hosts in brackets; TLS wants the bare address.
  const host = new URL(advertised).hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    ...(ca === undefined ? {} : { ca }),
    // SNI carries host names only (RFC 6066): an address is checked, not sent.
    ...(isIP(host) === 0 ? { servername: host } : {}),
    checkServerIdentity: (_dialled, certificate) => checkServerIdentity(host, certificate),
  };
}

function remoteError(to: NodeId, statusCode: number, text: string): QuorumError {
  let body: { quorumCode?: unknown; detail?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // Not a problem document (a proxy's error page): the status says enough.
  }
  const code =
    typeof body.quorumCode === 'string' && quorumCodes.has(body.quorumCode)
      ? body.quorumCode
      : QuorumErrorCode.REMOTE;
  const detail = typeof body.detail === 'string' ? `: ${body.detail}` : '';
  return new QuorumError(code as QuorumErrorCode, `${to} answered ${statusCode}${detail}`);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Node's connection errors already name the code and the address ("connect ECONNREFUSED 10.0.0.2:3002").
    return code === undefined || error.message.includes(code) ? error.message : `${code}: ${error.message}`;
  }
  return String(error);
}
