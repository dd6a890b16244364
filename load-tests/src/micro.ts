import { median, numberFromEnv } from './stats.js';

const DEFAULT_SAMPLES = 5;
const DEFAULT_SAMPLE_TIME_MS = 200;
const MAX_SAMPLES = 100;
const MAX_SAMPLE_TIME_MS = 60_000;
/** Batches at least this long keep `performance.now()` out of the measurement. */
const MIN_BATCH_MS = 1;
const MAX_BATCH_SIZE = 1 << 24;

export interface MicroOptions {
  /** Each sample calls `fn` this many times. Exclusive with `timeMs`. */
  iterations?: number;
  /** Each sample calls `fn` for about this long. Default: env `BENCH_MICRO_SAMPLE_MS`, else 200. */
  timeMs?: number;
  /** How many samples the median is taken over. Default 5. */
  samples?: number;
  /** Shown in the report's note column: what the number means or what it was run with. */
  note?: string;
}

export interface MicroResult {
  name: string;
  /** Median over the samples. */
  opsPerSecond: number;
  samplesOpsPerSecond: number[];
  note?: string;
}

/** Results go here (written, never read) so the engine cannot drop a call whose value nobody reads. */
let _sink: unknown;

type Operation = () => unknown;

/**
 * Measures `fn` in this process: a warmup (so the JIT has compiled it), then `samples` timed samples, and
 * the median ops/s. `fn` may return a promise; it is then awaited on every call, which counts in the time.
 */
export async function runMicro(
  name: string,
  fn: Operation,
  options: MicroOptions = {},
): Promise<MicroResult> {
  if (options.iterations !== undefined && options.timeMs !== undefined) {
    throw new Error(`micro-benchmark "${name}": give iterations or timeMs, not both`);
  }
  const samples = options.samples ?? DEFAULT_SAMPLES;
  assertCount(`micro-benchmark "${name}" samples`, samples, MAX_SAMPLES);
  const first = fn();
  const isAsync = isPromiseLike(first);
  if (isAsync) await first;
  const batch = isAsync ? runAsyncBatch : runSyncBatch;
  const samplesOpsPerSecond: number[] = [];
  if (options.iterations !== undefined) {
    assertCount(`micro-benchmark "${name}" iterations`, options.iterations, Number.MAX_SAFE_INTEGER);
    await batch(fn, Math.ceil(options.iterations / 10));
    for (let sample = 0; sample < samples; sample++) {
      const elapsedMs = await batch(fn, options.iterations);
      samplesOpsPerSecond.push((options.iterations * 1000) / elapsedMs);
    }
  } else {
    const sampleTimeMs = options.timeMs ?? numberFromEnv('BENCH_MICRO_SAMPLE_MS', DEFAULT_SAMPLE_TIME_MS);
    if (!(sampleTimeMs > 0 && sampleTimeMs <= MAX_SAMPLE_TIME_MS)) {
      throw new Error(
        `micro-benchmark "${name}" timeMs must be in (0, ${MAX_SAMPLE_TIME_MS}]: ${sampleTimeMs}`,
      );
    }
    const batchSize = await calibrateBatchSize(fn, batch);
    await timedSample(fn, batch, batchSize, sampleTimeMs);
    for (let sample = 0; sample < samples; sample++) {
      samplesOpsPerSecond.push(await timedSample(fn, batch, batchSize, sampleTimeMs));
    }
  }
  const result: MicroResult = { name, opsPerSecond: median(samplesOpsPerSecond), samplesOpsPerSecond };
  if (options.note !== undefined) result.note = options.note;
  return result;
}

type Batch = (fn: Operation, count: number) => Promise<number>;

async function runSyncBatch(fn: Operation, count: number): Promise<number> {
  const start = performance.now();
  for (let call = 0; call < count; call++) _sink = fn();
  return performance.now() - start;
}

async function runAsyncBatch(fn: Operation, count: number): Promise<number> {
  const start = performance.now();
  for (let call = 0; call < count; call++) _sink = await fn();
  return performance.now() - start;
}

/** Doubles the batch until one batch takes at least a millisecond. */
async function calibrateBatchSize(fn: Operation, batch: Batch): Promise<number> {
  let batchSize = 1;
  while (batchSize < MAX_BATCH_SIZE && (await batch(fn, batchSize)) < MIN_BATCH_MS) batchSize *= 2;
  return batchSize;
}

async function timedSample(fn: Operation, batch: Batch, batchSize: number, sampleTimeMs: number) {
  let calls = 0;
  let elapsedMs = 0;
  while (elapsedMs < sampleTimeMs) {
    elapsedMs += await batch(fn, batchSize);
    calls += batchSize;
  }
  return (calls * 1000) / elapsedMs;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && 'then' in value && typeof value.then === 'function';
}

function assertCount(name: string, value: number, max: number): void {
  if (!(Number.isInteger(value) && value >= 1 && value <= max))
    throw new Error(`${name} must be in [1, ${max}]`);
}
