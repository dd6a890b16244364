import {
  ClockMovedBackwardsError,
  EpochExhaustedError,
  GeneratorUnavailableError,
} from '@sysdesign/platform';
import { AliasTakenError, LinkNotFoundError, NoFreeCodeError, NotOwnerError } from '../domain/links.js';
import { errors } from '../errors.js';

/** Turns the domain's typed errors into problems; anything else passes through (a 500 is a bug). */
export function toProblem(error: unknown): unknown {
  if (error instanceof AliasTakenError)
    return errors.URLSHORT_ERR_ALIAS_TAKEN(error.message, { field: 'alias' });
  if (error instanceof LinkNotFoundError) return errors.URLSHORT_ERR_NOT_FOUND(error.message);
  if (error instanceof NotOwnerError) return errors.URLSHORT_ERR_NOT_OWNER(error.message);
  if (error instanceof NoFreeCodeError)
    return errors.URLSHORT_ERR_NO_FREE_CODE(error.message, {}, { 'retry-after': '1' });
  if (error instanceof ClockMovedBackwardsError) {
    const retryAfter = String(Math.max(1, Math.ceil(error.rollbackMs / 1000)));
    return errors.URLSHORT_ERR_CODE_GENERATOR_UNAVAILABLE(error.message, {}, { 'retry-after': retryAfter });
  }
  if (error instanceof GeneratorUnavailableError || error instanceof EpochExhaustedError) {
    return errors.URLSHORT_ERR_CODE_GENERATOR_UNAVAILABLE(error.message, {}, { 'retry-after': '1' });
  }
  return error;
}
