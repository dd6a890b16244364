import { type Problem, validationProblem } from '@sysdesign/platform';
import { InvalidOptionError, isQuorumError, QuorumErrorCode, QuorumNotMetError } from '@sysdesign/quorum';
import type { Config } from '../config.js';
import { errors } from '../errors.js';

/**
 * The service's error mapper: what the coordinator refuses a client, as problems. The problem
 * handler asks it first; anything else goes to the platform's mapping (a 500 when unknown). The
 * peer routes answer replicas in their own terms (`peerProblem` in peer.ts) before this is asked.
 */
export function clientProblemOf(error: unknown, config: Pick<Config, 'MAX_SIBLINGS'>): Problem | undefined {
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
  if (error instanceof InvalidOptionError) {
    return validationProblem([{ in: 'params', field: error.option, message: error.reason }]);
  }
  return undefined;
}
