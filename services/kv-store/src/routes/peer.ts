import {
  type ListenerApp,
  openServiceListener,
  Problem,
  type ServiceApp,
  type ServiceListener,
} from '@sysdesign/platform';
import { InvalidMessageError, QuorumError, QuorumErrorCode } from '@sysdesign/quorum';
import { decodeRequest, encodeResponse } from '@sysdesign/quorum/wire';
import type { Config } from '../config.js';
import { errors } from '../errors.js';
import type { KvNode } from '../node.js';
import { isStorageError } from '../storage/index.js';
import {
  CLUSTER_SECRET_HEADER,
  FROM_HEADER,
  NODE_ID_HEADER,
  PEER_PATH,
} from '../transport/http-transport.js';
import type { ClusterSecret } from '../transport/peer-credentials.js';

/**
 * The peer API: one POST route carrying the library's whole protocol (read, mint, store, Merkle
 * hashes and leaves, fetch, gossip) in its JSON codec, on a listener of its own (PEER_HOST and
 * PEER_PORT), never on the public port. Without a cluster secret there is no peer API at all (a
 * cluster of one); with one, a request without it is refused before its body is read, the secret
 * compared in constant time. Every field of a message is checked by `decodeRequest` before a
 * replica sees it (a 400 naming the field), and a gossip message is bounded in bytes and members.
 */

/** Status of a replica's refusal, by the library's code; the code itself travels as `quorumCode`. */
const INTERNAL_ERROR_STATUS = 500;
const STATUS_BY_QUORUM_CODE: Partial<Record<QuorumErrorCode, number>> = {
  [QuorumErrorCode.HINTS_FULL]: 503,
  [QuorumErrorCode.TOO_MANY_SIBLINGS]: 409,
  [QuorumErrorCode.SIBLINGS_TOO_LARGE]: 409,
  [QuorumErrorCode.INVALID_CONTEXT]: 400,
  [QuorumErrorCode.COUNTER_EXHAUSTED]: 503,
  [QuorumErrorCode.STOPPED]: 503,
};
/** A gossip member's digest in JSON, at most: a URL of up to 256 bytes, two counters, the punctuation. */
const GOSSIP_BYTES_PER_MEMBER = 320;
const GOSSIP_ENVELOPE_BYTES = 1024;

const listeners = new WeakMap<ServiceApp, ServiceListener>();

/** The peer listener of an app built here, if it has one (tests, operators' scripts). */
export function peerListenerOf(app: ServiceApp): ServiceListener | undefined {
  return listeners.get(app);
}

/** The largest gossip message a node accepts: its member bound, in bytes. */
export function gossipBodyLimitBytes(config: Config): number {
  return config.MAX_CLUSTER_MEMBERS * GOSSIP_BYTES_PER_MEMBER + GOSSIP_ENVELOPE_BYTES;
}

export async function registerPeerRoutes(app: ServiceApp, node: KvNode, config: Config): Promise<void> {
  const credentials = node.peerCredentials;
  if (credentials === undefined) return;
  const { host, port } = node.settings.peer;
  const listener = await openServiceListener(
    app,
    {
      name: 'peer',
      host,
      port,
      tls: credentials.tls,
      bodyLimitBytes: config.PEER_BODY_LIMIT_BYTES,
      // A replica's refusal reaches the coordinator in the peer protocol's terms, not the client API's.
      mapError: peerProblem,
    },
    (scope) => addPeerRoute(scope, node, config, credentials.secret),
  );
  listeners.set(app, listener);
  app.log.info({ peerUrl: listener.url, advertised: node.url }, 'peer API listening');
}

function addPeerRoute(scope: ListenerApp, node: KvNode, config: Config, secret: ClusterSecret): void {
  const gossipLimitBytes = gossipBodyLimitBytes(config);
  scope.addHook('onRequest', (request, _reply, done) => {
    if (secret.matches(request.headers[CLUSTER_SECRET_HEADER])) return done();
    done(errors.KV_ERR_PEER_UNAUTHORIZED(`send the cluster secret in ${CLUSTER_SECRET_HEADER}`));
  });
  // Peers send JSON the codec checks field by field; JSON.parse is enough (no prototype is read).
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    let message: unknown;
    try {
      message = JSON.parse(body as string);
    } catch {
      return done(errors.KV_ERR_PEER_MESSAGE_INVALID('the body is not JSON', { field: 'body' }), undefined);
    }
    if (isGossip(message) && (body as string).length > gossipLimitBytes) {
      const detail = `a gossip message is at most ${gossipLimitBytes} bytes (MAX_CLUSTER_MEMBERS=${config.MAX_CLUSTER_MEMBERS})`;
      return done(errors.KV_ERR_PEER_MESSAGE_INVALID(detail, { field: 'body' }), undefined);
    }
    done(null, message);
  });

  // Gossip alone is several requests a second: request logs only at warn and above.
  scope.post(PEER_PATH, { logLevel: 'warn' }, async (request, reply) => {
    reply.header(NODE_ID_HEADER, node.settings.nodeId);
    const from = request.headers[FROM_HEADER];
    const name = request.headers[NODE_ID_HEADER];
    if (typeof from === 'string' && typeof name === 'string') node.rememberName(from, name);
    const message = decodeRequest(request.body, node.wireLimits);
    return encodeResponse(await node.quorum.handle(message));
  });
}

function isGossip(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'gossip';
}

function peerProblem(error: unknown): Problem | undefined {
  if (error instanceof InvalidMessageError) {
    return errors.KV_ERR_PEER_MESSAGE_INVALID(error.message, { field: error.field, quorumCode: error.code });
  }
  if (error instanceof QuorumError) {
    const problem = errors.KV_ERR_PEER_REQUEST_FAILED(error.message, { quorumCode: error.code });
    const status = STATUS_BY_QUORUM_CODE[error.code] ?? INTERNAL_ERROR_STATUS;
    return new Problem(problem.code, status, problem.title, problem.detail, problem.extensions);
  }
  if (
    isStorageError(error, 'KV_ERR_OVERLOADED') ||
    isStorageError(error, 'KV_ERR_CLOSED') ||
    isStorageError(error, 'KV_ERR_ENGINE_FAILED')
  ) {
    return errors.KV_ERR_NODE_UNAVAILABLE(error.message, { storageCode: error.code }, { 'retry-after': '1' });
  }
  if (isStorageError(error, 'KV_ERR_KEY_INVALID') || isStorageError(error, 'KV_ERR_KEY_TOO_LARGE')) {
    return errors.KV_ERR_PEER_MESSAGE_INVALID(error.message, { field: 'key', storageCode: error.code });
  }
  return undefined;
}
