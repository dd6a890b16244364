import type { Problem } from '@sysdesign/platform';
import {
  AliasTakenError,
  LinkDeletedError,
  LinkNotFoundError,
  NoFreeCodeError,
  NotOwnerError,
} from '../domain/links.js';
import { errors } from '../errors.js';
import { QrBusyError } from '../qr/renderer.js';

/**
 * The service's error mapper: the domain's typed errors as problems. The problem handler asks it
 * first; anything it does not know (undefined) goes to the platform's mapping, where the
 * snowflake generator's refusals are mapped for every service and anything else is a 500.
 */
export function linkProblemOf(error: unknown): Problem | undefined {
  if (error instanceof AliasTakenError)
    return errors.URLSHORT_ERR_ALIAS_TAKEN(error.message, { field: 'alias' });
  if (error instanceof LinkNotFoundError) return errors.URLSHORT_ERR_NOT_FOUND(error.message);
  if (error instanceof NotOwnerError) return errors.URLSHORT_ERR_NOT_OWNER(error.message);
  if (error instanceof LinkDeletedError) return errors.URLSHORT_ERR_DELETED(error.message);
  if (error instanceof QrBusyError)
    return errors.URLSHORT_ERR_QR_BUSY(error.message, {}, { 'retry-after': String(error.retryAfterSeconds) });
  if (error instanceof NoFreeCodeError)
    return errors.URLSHORT_ERR_NO_FREE_CODE(error.message, {}, { 'retry-after': '1' });
  return undefined;
}
