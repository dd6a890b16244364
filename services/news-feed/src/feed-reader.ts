import type { FanoutMode } from './config.js';
import { pulledAuthors } from './domain/fanout.js';
import { type Candidate, isVisible, mergeNewestFirst, type ReaderView } from './domain/page.js';
import { encodeCursor, type FeedPosition, ID_MAX, isBefore, lowerOf } from './domain/score.js';
import type { FeedItem, Hydrator } from './hydrate.js';
import type { PostRecord, PostStore } from './store/post-store.js';
import { FLOOR_NONE, type Timelines } from './store/timelines.js';

/**
 * Builds one page of a feed. Sources are sorted sets that are exact above their floors (the
 * reader's pushed home feed, and the timelines of the authors pulled at read); the page takes
 * what they hold above the highest floor, merged newest first and filtered for the reader, and
 * continues from Postgres below it. So a page deeper than FEED_MAX, a feed being rebuilt and a
 * feed whose cache was lost all read the same as a cached one, only slower.
 */

/** Above every post: where the first page starts. */
export const TOP: FeedPosition = { score: Number.MAX_SAFE_INTEGER, id: ID_MAX };

export interface Page {
  items: FeedItem[];
  nextCursor: string | null;
}

export interface Source {
  key: string;
  floor: number;
}

export interface PageStats {
  fromCache: number;
  fromPostgres: number;
}

export class FeedReader {
  constructor(
    private readonly timelines: Timelines,
    private readonly posts: PostStore,
    private readonly hydrator: Hydrator,
    private readonly feedMax: number,
  ) {}

  /** The timelines to merge for a reader in `mode`, each filled from Postgres when not built. */
  async pulledSources(mode: FanoutMode, reader: string, followees: readonly string[]): Promise<Source[]> {
    const flags = await this.timelines.celebrityFlags(followees);
    const authors = pulledAuthors(
      mode,
      followees.map((id, index) => ({ id, celebrity: flags[index]! })),
    );
    if (mode === 'read') authors.push(reader);
    const floors = await this.timelines.timelineFloors(authors);
    const sources: Source[] = [];
    for (let index = 0; index < authors.length; index += 1) {
      const author = authors[index]!;
      const floor = floors[index] ?? (await this.fillTimeline(author));
      sources.push({ key: this.timelines.timelineKey(author), floor });
    }
    return sources;
  }

  /** Loads an author's newest posts into their timeline; answers its floor. */
  async fillTimeline(author: string): Promise<number> {
    const candidates = await this.posts.authorPage(author, TOP, this.feedMax);
    const floor = floorOf(candidates, this.feedMax);
    await this.timelines.buildTimeline(author, candidates, floor);
    return floor;
  }

  /**
   * The page after `after` for `reader`: cached sources above their highest floor, then Postgres.
   * `sqlPage` reads the Postgres part (the reader's feed, or one author's timeline).
   */
  async page(
    reader: string,
    sources: readonly Source[],
    view: ReaderView,
    after: FeedPosition,
    limit: number,
    sqlPage: (before: FeedPosition, count: number) => Promise<Candidate[]>,
  ): Promise<{ page: Page; stats: PageStats }> {
    const floor = sources.reduce((highest, source) => Math.max(highest, source.floor), FLOOR_NONE);
    const picked: Picked = { candidates: [], posts: new Map(), last: after };
    await this.pickFromCache(sources, floor, view, limit, picked);
    const fromCache = picked.candidates.length;
    let more = picked.candidates.length === limit;
    // Below the floor (or without sources) the cache is not exact: the rest comes from Postgres.
    const cacheIsComplete = sources.length > 0 && floor === FLOOR_NONE;
    if (!more && !cacheIsComplete) {
      // Without sources the whole page is Postgres's; with them, only what lies at or below the floor.
      const start = sources.length === 0 ? after : lowerOf(after, { score: floor, id: ID_MAX });
      const count = limit - picked.candidates.length;
      const rows = await sqlPage(start, count);
      await this.pick(rows, view, limit, picked);
      more = rows.length === count;
    }
    const items = await this.hydrator.items(reader, picked.candidates, picked.posts);
    return {
      page: { items, nextCursor: more ? encodeCursor(picked.last) : null },
      stats: { fromCache, fromPostgres: picked.candidates.length - fromCache },
    };
  }

  /** Walks the sources newest first in chunks until the page is full or they hold nothing more above the floor. */
  private async pickFromCache(
    sources: readonly Source[],
    floor: number,
    view: ReaderView,
    limit: number,
    picked: Picked,
  ): Promise<void> {
    const chunk = Math.max(limit * 2, 16);
    let exhausted = sources.length === 0;
    while (!exhausted && picked.candidates.length < limit) {
      const ranges = await Promise.all(
        sources.map((source) => this.timelines.range(source.key, picked.last, floor, chunk)),
      );
      // Below the newest last item of a source that may hold more, the merge could miss its items.
      let bound: FeedPosition | undefined;
      for (const range of ranges) {
        const last = range.candidates[range.candidates.length - 1];
        if (!range.full || last === undefined) continue;
        if (bound === undefined || isBefore(last, bound)) bound = last;
      }
      const merged = mergeNewestFirst(ranges.map((range) => range.candidates)).filter(
        (candidate) => bound === undefined || !isBefore(bound, candidate),
      );
      await this.pick(merged, view, limit, picked);
      exhausted = bound === undefined || merged.length === 0;
    }
  }

  /** Takes visible, live candidates in order until the page is full; `last` is the last one looked at. */
  private async pick(
    candidates: readonly Candidate[],
    view: ReaderView,
    limit: number,
    picked: Picked,
  ): Promise<void> {
    const content = await this.hydrator.postsOf(candidates.map((candidate) => candidate.id));
    for (const candidate of candidates) {
      if (picked.candidates.length === limit) return;
      picked.last = candidate;
      const post = content.get(candidate.id);
      if (post === undefined || post.deleted || !isVisible(candidate, view)) continue;
      picked.candidates.push(candidate);
      picked.posts.set(candidate.id, post);
    }
  }
}

interface Picked {
  candidates: Candidate[];
  posts: Map<bigint, PostRecord>;
  /** The last position looked at: the next page starts after it. */
  last: FeedPosition;
}

/** The floor of a set filled with an author's or a reader's newest `max` posts. */
export function floorOf(candidates: readonly Candidate[], max: number): number {
  if (candidates.length < max) return FLOOR_NONE;
  return candidates[candidates.length - 1]!.score;
}
