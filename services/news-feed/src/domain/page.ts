import { type FeedPosition, isBefore } from './score.js';

/**
 * A feed page is assembled from sources that each hold an exact prefix of their part of the feed
 * (a cached home feed, cached author timelines) down to a floor, and from Postgres below it. This
 * module holds the pure parts: merging sorted candidate lists without duplicates and filtering out
 * what the reader must not see.
 */

export interface Candidate extends FeedPosition {
  author: string;
}

/** What hides a post from one reader at read time. */
export interface ReaderView {
  /** Authors the reader follows, and the reader. */
  visibleAuthors: ReadonlySet<string>;
  /** Blocked or muted by the reader, or blocking the reader. */
  hiddenAuthors: ReadonlySet<string>;
  /** Posts known deleted. */
  deleted: ReadonlySet<bigint>;
}

export function isVisible(candidate: Candidate, view: ReaderView): boolean {
  return (
    view.visibleAuthors.has(candidate.author) &&
    !view.hiddenAuthors.has(candidate.author) &&
    !view.deleted.has(candidate.id)
  );
}

/** Merges lists each sorted newest first into one, newest first, each id once. */
export function mergeNewestFirst(lists: readonly (readonly Candidate[])[]): Candidate[] {
  const merged: Candidate[] = [];
  for (const list of lists) for (const item of list) merged.push(item);
  merged.sort((a, b) => (isBefore(a, b) ? -1 : isBefore(b, a) ? 1 : 0));
  const unique: Candidate[] = [];
  for (const item of merged) {
    const last = unique[unique.length - 1];
    if (last === undefined || last.id !== item.id) unique.push(item);
  }
  return unique;
}
