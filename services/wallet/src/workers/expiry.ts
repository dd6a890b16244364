import { setTimeout as sleep } from 'node:timers/promises';
import type { Ledger } from '../ledger.js';

export interface ExpirySweeperOptions {
  ledger: Ledger;
  intervalMs: number;
  /** Reservations voided per transaction; a full round is followed by another at once. */
  batch: number;
  /** Idempotency-Key answers older than this are forgotten. */
  keyTtlMs: number;
  onError: (error: unknown) => void;
}

export interface ExpirySweeper {
  close(): Promise<void>;
}

/** Rounds of a full batch in a row before the sweeper yields to its interval (a bound on one wake-up). */
const FULL_ROUNDS_MAX = 100;

/**
 * Voids reservations past their deadline and forgets old Idempotency-Keys, every `intervalMs`.
 * Replicas may each run one: a reservation is taken with SKIP LOCKED, so two sweepers never void
 * the same one, and a post racing the sweeper for it finds it gone (WALLET_ERR_PENDING_NOT_OPEN).
 */
export function startExpirySweeper(options: ExpirySweeperOptions): ExpirySweeper {
  const stop = new AbortController();
  const loop = (async () => {
    while (!stop.signal.aborted) {
      try {
        for (let round = 0; round < FULL_ROUNDS_MAX; round++) {
          if ((await options.ledger.expireDue(options.batch)) < options.batch) break;
        }
        await options.ledger.forgetKeys(options.keyTtlMs, options.batch);
      } catch (error) {
        if (!stop.signal.aborted) options.onError(error);
      }
      await sleep(options.intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  })();
  return {
    async close() {
      stop.abort();
      await loop;
    },
  };
}
