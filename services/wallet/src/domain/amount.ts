import { WalletRefusal } from './errors.js';

/**
 * Amounts are integers of minor units, carried in JSON as decimal strings because they go past
 * 2^53 (a JSON number would lose digits) and must never pass through a float. The largest one is
 * Postgres's bigint maximum; a balance that would pass it is refused by the database.
 */

export const AMOUNT_MAX = 2n ** 63n - 1n;
/** A positive integer without sign, leading zeros, point or exponent, at most 19 digits. */
export const AMOUNT_PATTERN = /^[1-9][0-9]{0,18}$/;

export class BadAmountError extends WalletRefusal {
  constructor(readonly field: string) {
    super(`${field} must be a positive integer of minor units, at most ${AMOUNT_MAX}, as a string`);
  }
}

/** Parses an amount a client sent; refuses zero, negatives, fractions and values past 2^63 - 1. */
export function parseAmount(text: string, field = 'amount'): bigint {
  if (!AMOUNT_PATTERN.test(text)) throw new BadAmountError(field);
  const amount = BigInt(text);
  if (amount > AMOUNT_MAX) throw new BadAmountError(field);
  return amount;
}
