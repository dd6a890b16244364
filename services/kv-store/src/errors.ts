import { defineProblems, type Problem, validationProblem } from '@sysdesign/platform';
import { InvalidOptionError, isQuorumError, QuorumErrorCode, QuorumNotMetError } from '@sysdesign/quorum';
import type { Config } from './config.js';

/**
 * The kv-store's stable error codes; each maps to a problem+json `type`. Bad keys, counts and
 * malformed contexts are the platform's ERR_VALIDATION (400, naming the field); a well-formed
 * context that claims writes no replica made is KV_ERR_INVALID_CONTEXT.
 */
export const errors = defineProblems({
  /** Fewer than W (writes) or R (reads) replicas answered within REQUEST_TIMEOUT_MS. */
  KV_ERR_QUORUM_NOT_MET: { status: 503, title: 'Quorum not reached' },
  /** No live version of the key (never written, or deleted). */
  KV_ERR_KEY_NOT_FOUND: { status: 404, title: 'Key not found' },
  /** The value is larger than MAX_VALUE_BYTES. */
  KV_ERR_VALUE_TOO_LARGE: { status: 413, title: 'Value too large' },
  /** The write would leave more concurrent versions than a replica keeps: read, merge, write with the context. */
  KV_ERR_TOO_MANY_SIBLINGS: { status: 409, title: 'Too many siblings' },
  /** The write would leave the key's siblings larger than MAX_SIBLINGS_BYTES: read, merge, write with the context. */
  KV_ERR_SIBLINGS_TOO_LARGE: { status: 409, title: 'Siblings too large' },
  /** An X-Context claiming a write a replica never made (a counter it never issued): no read returns one. */
  KV_ERR_INVALID_CONTEXT: { status: 400, title: 'Context not issued by this cluster' },
  /** This node cannot serve the request (its storage failed, or it is shutting down). */
  KV_ERR_NODE_UNAVAILABLE: { status: 503, title: 'Node unavailable' },
  /** A peer request without the right x-cluster-secret. */
  KV_ERR_PEER_UNAUTHORIZED: { status: 401, title: 'Not a member of this cluster' },
  /** A peer message that does not parse or breaks a limit. */
  KV_ERR_PEER_MESSAGE_INVALID: { status: 400, title: 'Invalid peer message' },
  /** A peer request this replica refused (hint store full, engine overloaded...): `quorumCode` says why. */
  KV_ERR_PEER_REQUEST_FAILED: { status: 503, title: 'Peer request failed' },
});

/**
 * The service's error mapper: what the coordinator refuses a client, as problems. The problem
 * handler asks it first; anything else goes to the platform's mapping (a 500 when unknown). The
 * peer routes answer replicas in their own terms (`peerProblem` in peer.ts) before this is asked.
 */
export function mapKvStoreError(
  error: unknown,
  config: Pick<Config, 'MAX_SIBLINGS' | 'MAX_SIBLINGS_BYTES'>,
): Problem | undefined {
  if (error instanceof QuorumNotMetError) {
    return errors.KV_ERR_QUORUM_NOT_MET(
      error.message,
      {
        required: error.required,
        answered: error.answered,
        contacted: error.contacted,
        failures: error.failures,
      },
      { 'retry-after': '1' },
    );
  }
  if (isQuorumError(error, QuorumErrorCode.TOO_MANY_SIBLINGS)) {
    return errors.KV_ERR_TOO_MANY_SIBLINGS(error.message, { maxSiblings: config.MAX_SIBLINGS });
  }
  if (isQuorumError(error, QuorumErrorCode.SIBLINGS_TOO_LARGE)) {
    return errors.KV_ERR_SIBLINGS_TOO_LARGE(error.message, { maxSiblingsBytes: config.MAX_SIBLINGS_BYTES });
  }
  // A replica's refusal of a forged context (it may come from another node, as a code).
  if (isQuorumError(error, QuorumErrorCode.INVALID_CONTEXT)) {
    return errors.KV_ERR_INVALID_CONTEXT(
      'X-Context claims a write no replica made: send back the X-Context of a read, or none',
    );
  }
  if (isQuorumError(error, QuorumErrorCode.COUNTER_EXHAUSTED)) {
    return errors.KV_ERR_NODE_UNAVAILABLE(error.message, {}, { 'retry-after': '1' });
  }
  if (error instanceof InvalidOptionError) {
    return validationProblem([{ in: 'params', field: error.option, message: error.reason }]);
  }
  return undefined;
}
