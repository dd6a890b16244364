import type { FanoutMode } from '../config.js';

/**
 * The fanout decision, the heart of the design. On write, a post is pushed into every active
 * follower's cached feed (reads are one sorted-set range); on read, nothing is pushed and a feed
 * is merged from the timelines of everyone the reader follows; the hybrid pushes for most authors
 * and leaves celebrities (CELEBRITY_THRESHOLD followers, sticky once reached) to be pulled at read,
 * so one post never costs millions of writes.
 */

export type Delivery = 'push' | 'pull';

export function deliveryOf(mode: FanoutMode, authorIsCelebrity: boolean): Delivery {
  if (mode === 'read') return 'pull';
  if (mode === 'write') return 'push';
  return authorIsCelebrity ? 'pull' : 'push';
}

/** An author is a celebrity from the moment their followers reach the threshold. */
export function isCelebrity(followers: number, threshold: number): boolean {
  return followers >= threshold;
}

/** Which authors a reader's feed pulls at read: every followee on read, celebrities in the hybrid, none on write. */
export function pulledAuthors(
  mode: FanoutMode,
  followees: readonly { id: string; celebrity: boolean }[],
): string[] {
  if (mode === 'write') return [];
  if (mode === 'read') return followees.map((followee) => followee.id);
  return followees.filter((followee) => followee.celebrity).map((followee) => followee.id);
}

/** Splits followers into the batches one bus message each carries. */
export function batchesOf<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be >= 1, got ${size}`);
  const batches: T[][] = [];
  for (let start = 0; start < items.length; start += size) batches.push(items.slice(start, start + size));
  return batches;
}
