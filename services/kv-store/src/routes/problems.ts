import { type Problem, validationProblem } from '@sysdesign/platform';
import { InvalidOptionError, isQuorumError, QuorumErrorCode, QuorumNotMetError } from '@sysdesign/quorum';
import type { Config } from '../config.js';
import { errors } from '../errors.js';

/**
 * The service's error mapper: what the coordinator refuses a client, as problems. The problem
 * handler asks it first; anything else goes to the platform's mapping (a 500 when unknown). The
 * peer routes answer replicas in their own terms (`peerProblem` in peer.ts) before this is asked.
 */
export function clientProblemOf(
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
