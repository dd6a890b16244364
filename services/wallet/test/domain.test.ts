import { describe, expect, it } from 'vitest';
import { AMOUNT_MAX, BadAmountError, parseAmount } from '../src/domain/amount.js';
import { applyDelta, availableBalance, type Balances, deltaOf } from '../src/domain/balance.js';
import { exponentOf, UnknownCurrencyError } from '../src/domain/currency.js';
import {
  BalanceOverflowError,
  CreditLimitExceededError,
  InsufficientFundsError,
} from '../src/domain/errors.js';
import { requestHash } from '../src/domain/idempotency.js';

/** The ledger's arithmetic and parsing without a database: each rule on its edge. */

const zero: Balances = { debitsPosted: 0n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n };
const wallet = { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: false };
const capped = { debitsMustNotExceedCredits: false, creditsMustNotExceedDebits: true };

describe('amounts', () => {
  it('parses positive integers up to 2^63 - 1 and nothing else', () => {
    expect(parseAmount('1')).toBe(1n);
    expect(parseAmount(AMOUNT_MAX.toString())).toBe(AMOUNT_MAX);
    for (const text of ['0', '-1', '1.0', '1e2', '01', '9223372036854775808', '99999999999999999999', ''])
      expect(() => parseAmount(text), text).toThrow(BadAmountError);
  });
});

describe('currencies', () => {
  it('knows ISO 4217 exponents of 0, 2, 3 and 4, and refuses codes without a minor unit', () => {
    expect([exponentOf('JPY'), exponentOf('EUR'), exponentOf('KWD'), exponentOf('CLF')]).toEqual([
      0, 2, 3, 4,
    ]);
    for (const code of ['XAU', 'XXX', 'HRK', 'eur'])
      expect(() => exponentOf(code), code).toThrow(UnknownCurrencyError);
  });
});

describe('balances', () => {
  it('lets a wallet spend exactly what it holds, pending debits included', () => {
    const funded = applyDelta('w', zero, wallet, 'credit', deltaOf('single', 100n));
    const reserved = applyDelta('w', funded, wallet, 'debit', deltaOf('pending', 60n));
    expect(availableBalance(reserved)).toBe(40n);
    expect(() => applyDelta('w', reserved, wallet, 'debit', deltaOf('single', 41n))).toThrow(
      InsufficientFundsError,
    );
    const spent = applyDelta('w', reserved, wallet, 'debit', deltaOf('single', 40n));
    expect(availableBalance(spent)).toBe(0n);
    // Posting or voiding the reservation takes nothing more, so neither is refused at zero.
    const posted = applyDelta('w', spent, wallet, 'debit', deltaOf('post', 60n));
    expect(posted).toEqual({
      debitsPosted: 100n,
      creditsPosted: 100n,
      debitsPending: 0n,
      creditsPending: 0n,
    });
    expect(applyDelta('w', spent, wallet, 'debit', deltaOf('void', 60n)).debitsPending).toBe(0n);
  });

  it('caps credits of a capped account at its posted debits', () => {
    const owed = applyDelta('c', zero, capped, 'debit', deltaOf('single', 50n));
    expect(() => applyDelta('c', owed, capped, 'credit', deltaOf('single', 51n))).toThrow(
      CreditLimitExceededError,
    );
    expect(applyDelta('c', owed, capped, 'credit', deltaOf('single', 50n)).creditsPosted).toBe(50n);
  });

  it('refuses a counter past 2^63 - 1, and crashes on a counter below zero (a bug, never a refusal)', () => {
    const full = { ...zero, creditsPosted: AMOUNT_MAX };
    expect(() => applyDelta('w', full, wallet, 'credit', deltaOf('single', 1n))).toThrow(
      BalanceOverflowError,
    );
    expect(() => applyDelta('w', zero, wallet, 'debit', deltaOf('void', 1n))).toThrow(/negative/);
  });
});

describe('request hashes', () => {
  it('hash the same request the same however its keys are ordered, and any change differently', () => {
    const a = requestHash('transfer', { amount: 10n, currency: 'EUR', memo: undefined });
    expect(requestHash('transfer', { currency: 'EUR', amount: 10n })).toBe(a);
    expect(requestHash('transfer', { currency: 'EUR', amount: 11n })).not.toBe(a);
    expect(requestHash('batch', { currency: 'EUR', amount: 10n })).not.toBe(a);
  });
});
