import { defineProblems, type Problem } from '@sysdesign/platform';
import {
  AliasTakenError,
  LinkDeletedError,
  LinkNotFoundError,
  NoFreeCodeError,
  NotOwnerError,
} from './domain/links.js';
import { QrBusyError } from './qr/renderer.js';

/** The URL shortener's stable error codes; each maps to a problem+json `type`. */
export const errors = defineProblems({
  URLSHORT_ERR_NOT_FOUND: { status: 404, title: 'Short link not found' },
  URLSHORT_ERR_EXPIRED: { status: 410, title: 'Short link expired' },
  URLSHORT_ERR_DELETED: { status: 410, title: 'Short link deleted' },
  URLSHORT_ERR_CLICK_LIMIT_REACHED: { status: 410, title: 'Short link click limit reached' },
  URLSHORT_ERR_ALIAS_TAKEN: { status: 409, title: 'Alias already taken' },
  URLSHORT_ERR_NOT_OWNER: { status: 403, title: 'Only the creator may do this' },
  URLSHORT_ERR_NO_FREE_CODE: { status: 503, title: 'No free code found' },
  URLSHORT_ERR_DISABLED: { status: 410, title: 'Short link disabled' },
  URLSHORT_ERR_QR_BUSY: { status: 503, title: 'QR rendering is busy' },
});

/**
 * The service's error mapper: the domain's typed errors as problems. The problem handler asks it
 * first; anything it does not know (undefined) goes to the platform's mapping, where the
 * snowflake generator's refusals are mapped for every service and anything else is a 500.
 */
export function mapUrlShortenerError(error: unknown): Problem | undefined {
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
