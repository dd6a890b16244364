import {
  type Counter,
  type Histogram,
  LATENCY_BUCKETS_SECONDS,
  type ServiceMetrics,
} from '@sysdesign/platform';
import type { LedgerObserver } from './ledger.js';
import type { LockingMode } from './store/locking.js';

/** The wallet's own series, beside the platform's HTTP and process metrics. */
export interface WalletMetrics {
  transfers: Counter<'kind' | 'outcome' | 'locking'>;
  transferDuration: Histogram<'kind' | 'locking'>;
  retries: Counter<'reason' | 'locking'>;
  contentionExhausted: Counter<'locking'>;
  expired: Counter;
}

export function createWalletMetrics(metrics: ServiceMetrics): WalletMetrics {
  return {
    transfers: metrics.counter(
      'wallet_transfers_total',
      'Transfer requests by kind (single, pending, post, void, batch, reversal) and outcome (applied, refused, replayed)',
      ['kind', 'outcome', 'locking'],
    ),
    transferDuration: metrics.histogram(
      'wallet_transfer_seconds',
      'Time to apply a transfer request, retries included',
      ['kind', 'locking'],
      LATENCY_BUCKETS_SECONDS,
    ),
    retries: metrics.counter(
      'wallet_transaction_retries_total',
      'Transactions rolled back by contention and retried: optimistic_conflict, deadlock, serialization_failure',
      ['reason', 'locking'],
    ),
    contentionExhausted: metrics.counter(
      'wallet_contention_exhausted_total',
      'Requests refused with 503 because contention outlasted TRANSFER_ATTEMPTS_MAX',
      ['locking'],
    ),
    expired: metrics.counter('wallet_pending_expired_total', 'Pending transfers voided by their timeout'),
  };
}

export function walletObserver(metrics: WalletMetrics, locking: LockingMode): LedgerObserver {
  return {
    transfer: (kind, outcome, durationMs) => {
      metrics.transfers.inc({ kind, outcome, locking });
      metrics.transferDuration.observe({ kind, locking }, durationMs / 1_000);
    },
    retry: (reason) => metrics.retries.inc({ reason, locking }),
    contentionExhausted: () => metrics.contentionExhausted.inc({ locking }),
    expired: (count) => metrics.expired.inc(count),
  };
}
