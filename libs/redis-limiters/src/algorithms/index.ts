import type { Algorithm } from '../policy.js';
import { decideFixedWindow, type FixedWindowState } from './fixed-window.js';
import { decideGcra, type GcraState } from './gcra.js';
import { decideLeakingBucket, type LeakingBucketState } from './leaking-bucket.js';
import type { Decide } from './outcome.js';
import { decideSlidingWindowCounter, type SlidingWindowCounterState } from './sliding-window-counter.js';
import { decideSlidingWindowLog, type SlidingWindowLogState } from './sliding-window-log.js';
import { decideTokenBucket, type TokenBucketState } from './token-bucket.js';

export type { Decide, Outcome } from './outcome.js';
export type {
  FixedWindowState,
  GcraState,
  LeakingBucketState,
  SlidingWindowCounterState,
  SlidingWindowLogState,
  TokenBucketState,
};

export type AlgorithmState =
  | TokenBucketState
  | LeakingBucketState
  | FixedWindowState
  | SlidingWindowLogState
  | SlidingWindowCounterState
  | GcraState;

/** Each algorithm's decision function; a limiter picks one by its policy. */
export const DECIDERS: Record<Algorithm, Decide<AlgorithmState>> = {
  token_bucket: decideTokenBucket as Decide<AlgorithmState>,
  leaking_bucket: decideLeakingBucket as Decide<AlgorithmState>,
  fixed_window: decideFixedWindow as Decide<AlgorithmState>,
  sliding_window_log: decideSlidingWindowLog as Decide<AlgorithmState>,
  sliding_window_counter: decideSlidingWindowCounter as Decide<AlgorithmState>,
  gcra: decideGcra as Decide<AlgorithmState>,
};
