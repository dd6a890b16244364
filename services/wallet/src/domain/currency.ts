import { WalletRefusal } from './errors.js';

/**
 * ISO 4217 currencies and their minor-unit exponents (the number of decimal places of the minor
 * unit: 2 for USD cents, 0 for JPY, 3 for KWD fils). Amounts in the ledger are integers of minor
 * units, so the exponent is what a client needs to show one. Codes without a minor unit in the
 * standard (gold, SDR, the test code XTS, XXX) are not money a wallet holds and are refused.
 *
 * The list is ISO 4217's active codes as of its 2025 amendments (ANG replaced by XCG, ZWL by ZWG,
 * SLL by SLE, HRK retired).
 */

const EXPONENT_0 = 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF';
const EXPONENT_3 = 'BHD IQD JOD KWD LYD OMR TND';
const EXPONENT_4 = 'CLF UYW';
const EXPONENT_2 =
  'AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD ' +
  'CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL ' +
  'GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR ' +
  'LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD ' +
  'PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC ' +
  'SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG';

const EXPONENTS: ReadonlyMap<string, number> = new Map([
  ...EXPONENT_0.split(' ').map((code) => [code, 0] as const),
  ...EXPONENT_2.split(' ').map((code) => [code, 2] as const),
  ...EXPONENT_3.split(' ').map((code) => [code, 3] as const),
  ...EXPONENT_4.split(' ').map((code) => [code, 4] as const),
]);

export class UnknownCurrencyError extends WalletRefusal {
  constructor(readonly currency: string) {
    super(`${JSON.stringify(currency)} is not an ISO 4217 currency with a minor unit`);
  }
}

/** The minor-unit exponent of an ISO 4217 code, or UnknownCurrencyError. */
export function exponentOf(currency: string): number {
  const exponent = EXPONENTS.get(currency);
  if (exponent === undefined) throw new UnknownCurrencyError(currency);
  return exponent;
}

export function isCurrency(currency: string): boolean {
  return EXPONENTS.has(currency);
}

export const CURRENCY_COUNT = EXPONENTS.size;
