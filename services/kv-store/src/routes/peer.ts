import { createHash, timingSafeEqual } from 'node:crypto';
import { Problem, type ServiceApp } from '@sysdesign/platform';
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

/**
 * The peer endpoint: one POST route carrying the library's whole protocol (read, mint, store,
 * Merkle hashes and leaves, fetch, gossip) in its JSON codec. Hidden from the OpenAPI docs; when
 * CLUSTER_SECRET is set, a request without it is refused before its body is read. Every field of a
 * message is checked by `decodeRequest` before a replica sees it (a 400 naming the field).
 */

/** Status of a replica's refusal, by the library's code; the code itself travels as `quorumCode`. */
const INTERNAL_ERROR_STATUS = 500;
const STATUS_BY_QUORUM_CODE: Partial<Record<QuorumErrorCode, number>> = {
  [QuorumErrorCode.HINTS_FULL]: 503,
  [QuorumErrorCode.TOO_MANY_SIBLINGS]: 409,
  [QuorumErrorCode.STOPPED]: 503,
};

export async function registerPeerRoutes(app: ServiceApp, node: KvNode, config: Config): Promise<void> {
  const secretDigest = config.CLUSTER_SECRET === undefined ? undefined : digest(config.CLUSTER_SECRET);
  await app.register(async (scope) => {
    // Peers send JSON the codec checks field by field; JSON.parse is enough (no prototype is read).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'string', bodyLimit: config.PEER_BODY_LIMIT_BYTES },
      (_request, body, done) => {
        try {
          done(null, JSON.parse(body as string));
        } catch {
          done(errors.KV_ERR_PEER_MESSAGE_INVALID('the body is not JSON', { field: 'body' }), undefined);
        }
      },
    );
    if (secretDigest !== undefined) {
      scope.addHook('onRequest', (request, _reply, done) => {
        const given = request.headers[CLUSTER_SECRET_HEADER];
        if (typeof given === 'string' && timingSafeEqual(digest(given), secretDigest)) return done();
        done(errors.KV_ERR_PEER_UNAUTHORIZED(`send the cluster secret in ${CLUSTER_SECRET_HEADER}`));
      });
    }

    // A replica's refusal reaches the coordinator in the peer protocol's terms, not the client
    // API's: mapped here, before the service's mapper (which speaks to clients) is asked.
    scope.setErrorHandler((error) => {
      throw peerProblem(error);
    });

    // Gossip alone is several requests a second: request logs only at warn and above.
    const routeOptions = {
      bodyLimit: config.PEER_BODY_LIMIT_BYTES,
      logLevel: 'warn',
      schema: { hide: true },
    } as const;
    scope.post(PEER_PATH, routeOptions, async (request, reply) => {
      reply.header(NODE_ID_HEADER, node.settings.nodeId);
      const from = request.headers[FROM_HEADER];
      const name = request.headers[NODE_ID_HEADER];
      if (typeof from === 'string' && typeof name === 'string') node.rememberName(from, name);
      const message = decodeRequest(request.body, node.wireLimits);
      return encodeResponse(await node.quorum.handle(message));
    });
  });
}

function peerProblem(error: unknown): unknown {
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
  return error;
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}
