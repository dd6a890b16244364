/**
 * Token ranges on the ring: half-open arcs (start, end] of positions in [0, RING_SIZE), wrapping past
 * the top. A range with start === end is the whole ring (a ring with one token position).
 */
import { RING_SIZE } from './hash.js';

export interface TokenRange {
  /** Exclusive. */
  start: number;
  /** Inclusive. */
  end: number;
}

/** Whether `position` lies in the range (start, end], wrapping. */
export function rangeContains(range: TokenRange, position: number): boolean {
  const { start, end } = range;
  if (start === end) return true;
  if (start < end) return position > start && position <= end;
  return position > start || position <= end;
}

/** The number of positions in the range: a fraction of the ring is `rangeWidth(range) / RING_SIZE`. */
export function rangeWidth(range: TokenRange): number {
  const { start, end } = range;
  if (start === end) return RING_SIZE;
  return start < end ? end - start : RING_SIZE - start + end;
}

/**
 * Collects ranges in ring order, merging each with the previous one when they touch and carry equal
 * values, and finally merging the last with the first across the top of the ring.
 */
export class RangeCollector<Value, Range extends TokenRange> {
  private readonly ranges: Range[] = [];
  private readonly values: Value[] = [];
  private readonly equal: (a: Value, b: Value) => boolean;
  private readonly build: (start: number, end: number, value: Value) => Range;

  constructor(
    equal: (a: Value, b: Value) => boolean,
    build: (start: number, end: number, value: Value) => Range,
  ) {
    this.equal = equal;
    this.build = build;
  }

  push(start: number, end: number, value: Value): void {
    const lastIndex = this.ranges.length - 1;
    const last = this.ranges[lastIndex];
    if (last !== undefined && last.end === start && this.equal(this.values[lastIndex]!, value)) {
      this.ranges[lastIndex] = this.build(last.start, end, value);
      return;
    }
    this.ranges.push(this.build(start, end, value));
    this.values.push(value);
  }

  finish(): Range[] {
    const ranges = this.ranges;
    if (ranges.length >= 2) {
      const first = ranges[0]!;
      const last = ranges[ranges.length - 1]!;
      if (last.end === first.start && this.equal(this.values[ranges.length - 1]!, this.values[0]!)) {
        ranges[0] = this.build(last.start, first.end, this.values[0]!);
        ranges.pop();
      }
    }
    return ranges;
  }
}
