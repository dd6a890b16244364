import { seededRandom } from '@sysdesign/testkit';
import { expect } from 'vitest';
import {
  ConsistentHashingError,
  type ConsistentHashingErrorCode,
  RING_SIZE,
  rangeContains,
  rangeWidth,
  type TokenRange,
} from '../src/index.js';

export function makeKeys(count: number, prefix = 'key'): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}:${index}`);
}

export function nodeNames(count: number, prefix = 'node'): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
}

export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = seededRandom(seed);
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index--) {
    const other = Math.floor(random() * (index + 1));
    [copy[index], copy[other]] = [copy[other]!, copy[index]!];
  }
  return copy;
}

/** Asserts that `fn` throws a ConsistentHashingError with this code. */
export function expectCode(fn: () => unknown, code: ConsistentHashingErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected ${code}`).toBeInstanceOf(ConsistentHashingError);
  expect((thrown as ConsistentHashingError).code).toBe(code);
}

export function standardDeviationPercent(values: readonly number[]): number {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length;
  return (Math.sqrt(variance) / mean) * 100;
}

/**
 * Indexes non-overlapping ranges for lookups by position (binary search on `end`), after checking
 * that they do not overlap: a position then lies in at most one of them.
 */
export function rangeIndex<Range extends TokenRange>(
  ranges: readonly Range[],
): (position: number) => Range | undefined {
  const sorted = [...ranges].sort((a, b) => a.end - b.end);
  const total = sorted.reduce((sum, range) => sum + rangeWidth(range), 0);
  expect(total).toBeLessThanOrEqual(RING_SIZE);
  for (let index = 1; index < sorted.length; index++) {
    const range = sorted[index]!;
    if (range.start < range.end) expect(range.start).toBeGreaterThanOrEqual(sorted[index - 1]!.end);
  }
  const wrapping = sorted.filter((range) => range.start >= range.end);
  expect(wrapping.length).toBeLessThanOrEqual(1);
  return (position) => {
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (sorted[middle]!.end < position) low = middle + 1;
      else high = middle;
    }
    const candidate = sorted[low];
    if (candidate !== undefined && rangeContains(candidate, position)) return candidate;
    const around = wrapping[0];
    return around !== undefined && rangeContains(around, position) ? around : undefined;
  };
}
