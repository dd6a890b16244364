import type { ScoredMember, SortedSetStore } from '@sysdesign/platform';
import type { FanoutMode } from '../config.js';
import type { Candidate } from '../domain/page.js';
import { type FeedPosition, idOfMember, memberOfId } from '../domain/score.js';

/**
 * The feed-ids tier: sorted sets of post ids, one home feed per reader (what the fanout pushed)
 * and one timeline per author (what the author posted), each capped at FEED_MAX, on Redis or the
 * skip-list twin. A set holds an exact prefix of its part of the feed down to a floor: only
 * scores above the floor are trusted; below it, pages come from Postgres. The floors live in a
 * marker set per kind, and a missing marker means the set was never built (or was lost): a home
 * feed is then rebuilt, a timeline filled from Postgres.
 *
 * Members carry the author too (`<id>:<author>`), so a page is filtered without reading posts.
 */

const TIE_SLACK = 64;

/** Above every score: the floor of a feed being rebuilt, trusted nowhere until the rebuild settles it. */
export const REBUILDING_FLOOR = Number.MAX_SAFE_INTEGER;

/** Below every score: the floor of a set that holds everything. */
export const FLOOR_NONE = -1;

export interface SourceRange {
  candidates: Candidate[];
  /** True when the set may hold more below the last candidate. */
  full: boolean;
}

export function memberOf(candidate: Candidate): string {
  return `${memberOfId(candidate.id)}:${candidate.author}`;
}

function candidateOf(entry: ScoredMember): Candidate {
  const colon = entry.member.indexOf(':');
  return {
    id: idOfMember(entry.member.slice(0, colon)),
    author: entry.member.slice(colon + 1),
    score: entry.score,
  };
}

export class Timelines {
  private readonly feedMarkers: string;
  private readonly timelineMarkers = 'built:timeline';
  private readonly celebrities = 'celebrities';

  constructor(
    private readonly sets: SortedSetStore,
    private readonly feedMax: number,
    mode: FanoutMode,
  ) {
    // Feeds pushed under one mode are not exact under another (the hybrid never pushed celebrities):
    // a mode switch starts from fresh, rebuilt feeds.
    this.feedMarkers = `built:feed:${mode}`;
    this.feedPrefix = `feed:${mode}:`;
  }

  private readonly feedPrefix: string;

  feedKey(reader: string): string {
    return `${this.feedPrefix}${reader}`;
  }

  timelineKey(author: string): string {
    return `timeline:${author}`;
  }

  /** The floor of a home feed, or undefined when it is not built. */
  async feedFloor(reader: string): Promise<number | undefined> {
    return (await this.sets.zscore(this.feedMarkers, reader)) ?? undefined;
  }

  /** Floors of authors' timelines (undefined: not built). */
  async timelineFloors(authors: readonly string[]): Promise<(number | undefined)[]> {
    if (authors.length === 0) return [];
    return (await this.sets.zmscore(this.timelineMarkers, authors)).map((floor) => floor ?? undefined);
  }

  /**
   * Adds a post to the built home feeds of `readers` (concurrently: on Redis they share one
   * pipelined connection) and trims each; a feed not built is left alone (it is rebuilt on its
   * owner's next read). Answers how many feeds were written.
   */
  async pushToFeeds(readers: readonly string[], candidate: Candidate): Promise<number> {
    if (readers.length === 0) return 0;
    const floors = await this.sets.zmscore(this.feedMarkers, readers);
    const entry = [{ member: memberOf(candidate), score: candidate.score }];
    const built = readers.filter((_, index) => floors[index] !== null);
    await Promise.all(
      built.map((reader) => this.addTrimmed(this.feedKey(reader), this.feedMarkers, reader, entry)),
    );
    return built.length;
  }

  /** Replaces a home feed with `candidates` (its newest posts) and marks it built with `floor`. */
  async buildFeed(reader: string, candidates: readonly Candidate[], floor: number): Promise<void> {
    const key = this.feedKey(reader);
    await this.sets.del(key);
    if (candidates.length > 0)
      await this.sets.zadd(
        key,
        candidates.map((candidate) => ({ member: memberOf(candidate), score: candidate.score })),
      );
    await this.sets.zadd(this.feedMarkers, [{ member: reader, score: floor }]);
    await this.trim(key, this.feedMarkers, reader);
  }

  /**
   * Marks a feed built but trusted nowhere (floor above every score), keeping what it holds, so
   * that fanout writes made while a rebuild reads Postgres land in it.
   */
  async beginRebuild(reader: string): Promise<void> {
    await this.sets.zadd(this.feedMarkers, [{ member: reader, score: REBUILDING_FLOOR }]);
  }

  /**
   * Ends a rebuild: adds the reader's newest posts and sets the floor to what they cover (raised
   * to the lowest kept entry when the set is at its cap).
   */
  async settleFeed(reader: string, candidates: readonly Candidate[], floor: number): Promise<void> {
    const key = this.feedKey(reader);
    if (candidates.length > 0)
      await this.sets.zadd(
        key,
        candidates.map((candidate) => ({ member: memberOf(candidate), score: candidate.score })),
      );
    await this.sets.keepTop(key, this.feedMax, 'highest');
    let settled = floor;
    if ((await this.sets.zcard(key)) >= this.feedMax) {
      const [lowest] = await this.sets.zrange(key, 0, 0);
      if (lowest !== undefined) settled = Math.max(settled, lowest.score);
    }
    await this.sets.zadd(this.feedMarkers, [{ member: reader, score: settled }]);
  }

  /**
   * Merges an author's newest posts into a built feed (a new follow). When the author's timeline
   * is itself cut at a floor, the feed is only exact above it: the feed's floor rises to it.
   */
  async mergeIntoFeed(reader: string, candidates: readonly Candidate[], authorFloor: number): Promise<void> {
    if ((await this.feedFloor(reader)) === undefined) return;
    if (candidates.length > 0)
      await this.addTrimmed(
        this.feedKey(reader),
        this.feedMarkers,
        reader,
        candidates.map((candidate) => ({ member: memberOf(candidate), score: candidate.score })),
      );
    if (authorFloor > FLOOR_NONE) await this.raiseFloor(this.feedMarkers, reader, authorFloor);
  }

  /** Adds a post to its author's built timeline (a timeline not built is filled on its next read). */
  async addToTimeline(candidate: Candidate): Promise<void> {
    const [floor] = await this.timelineFloors([candidate.author]);
    if (floor === undefined) return;
    await this.addTrimmed(this.timelineKey(candidate.author), this.timelineMarkers, candidate.author, [
      { member: memberOf(candidate), score: candidate.score },
    ]);
  }

  async buildTimeline(author: string, candidates: readonly Candidate[], floor: number): Promise<void> {
    const key = this.timelineKey(author);
    await this.sets.del(key);
    if (candidates.length > 0)
      await this.sets.zadd(
        key,
        candidates.map((candidate) => ({ member: memberOf(candidate), score: candidate.score })),
      );
    await this.sets.zadd(this.timelineMarkers, [{ member: author, score: floor }]);
  }

  async removeFromTimeline(candidate: Candidate): Promise<void> {
    await this.sets.zrem(this.timelineKey(candidate.author), [memberOf(candidate)]);
  }

  /** Candidates of one set strictly after `after` and above `floor`, newest first, at most `count`. */
  async range(key: string, after: FeedPosition, floor: number, count: number): Promise<SourceRange> {
    // The score bound includes `after.score`; members tied at that score (posts of different
    // workers in the same millisecond and sequence, rare) are cut by id below, and the slack of
    // TIE_SLACK entries keeps such a cut from emptying a range that has more.
    const entries = await this.sets.zrangeByScore(key, { value: floor, exclusive: true }, after.score, {
      rev: true,
      limit: { offset: 0, count: count + TIE_SLACK },
    });
    const candidates: Candidate[] = [];
    for (const entry of entries) {
      const candidate = candidateOf(entry);
      if (candidate.score === after.score && candidate.id >= after.id) continue;
      if (candidates.length < count) candidates.push(candidate);
    }
    return { candidates, full: entries.length >= count + TIE_SLACK || candidates.length >= count };
  }

  async markCelebrity(author: string): Promise<void> {
    await this.sets.zadd(this.celebrities, [{ member: author, score: 1 }]);
  }

  async celebrityFlags(authors: readonly string[]): Promise<boolean[]> {
    if (authors.length === 0) return [];
    return (await this.sets.zmscore(this.celebrities, authors)).map((flag) => flag !== null);
  }

  async feedSize(reader: string): Promise<number> {
    return this.sets.zcard(this.feedKey(reader));
  }

  private async addTrimmed(
    key: string,
    markers: string,
    owner: string,
    entries: readonly ScoredMember[],
  ): Promise<void> {
    await this.sets.zadd(key, entries);
    await this.trim(key, markers, owner);
  }

  /** Caps a set at FEED_MAX; when anything went, the exact region starts above the lowest kept score. */
  private async trim(key: string, markers: string, owner: string): Promise<void> {
    const removed = await this.sets.keepTop(key, this.feedMax, 'highest');
    if (removed === 0) return;
    const [lowest] = await this.sets.zrange(key, 0, 0);
    if (lowest !== undefined) await this.raiseFloor(markers, owner, lowest.score);
  }

  private async raiseFloor(markers: string, owner: string, floor: number): Promise<void> {
    await this.sets.zadd(markers, [{ member: owner, score: floor }], { xx: true, gt: true });
  }
}
