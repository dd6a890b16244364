import { createHash } from 'node:crypto';
import type { EventBus } from '@sysdesign/platform';
import type { Limiter } from '@sysdesign/redis-limiters';
import type { FanoutMode } from './config.js';
import { NotRegisteredError, PostRateLimitedError, SelfRelationError } from './domain/errors.js';
import { deliveryOf } from './domain/fanout.js';
import type { Candidate, ReaderView } from './domain/page.js';
import { decodeCursor, type FeedPosition, scoreOfId } from './domain/score.js';
import { FeedReader, floorOf, type Page, type PageStats, TOP } from './feed-reader.js';
import type { FeedItem, Hydrator } from './hydrate.js';
import type { PostRecord, PostStore, Reply } from './store/post-store.js';
import type { SocialStore, User } from './store/social-store.js';
import { FLOOR_NONE, REBUILDING_FLOOR, type Timelines } from './store/timelines.js';

/**
 * The news feed: writes go to Postgres first (the source of truth) and then to the caches;
 * posts are announced on the bus (keyed by author) for the fanout workers; reads assemble pages
 * from the caches and Postgres (feed-reader.ts).
 */

/** What the fanout workers receive for every post. */
export interface PostEvent {
  postId: string;
  author: string;
  score: number;
  createdMs: number;
}

export interface NewsFeedObserver {
  pageRead(mode: FanoutMode, stats: PageStats, rebuilding: boolean): void;
  rebuilt(reader: string, posts: number, ms: number): void;
  rebuildFailed(reader: string, error: unknown): void;
  limiterUnavailable(error: unknown): void;
}

export interface NewsFeedOptions {
  mode: FanoutMode;
  social: SocialStore;
  posts: PostStore;
  timelines: Timelines;
  hydrator: Hydrator;
  bus: EventBus;
  postsTopic: string;
  nextId: () => Promise<bigint>;
  limiter: Limiter;
  nowMs: () => number;
  feedMax: number;
  followingMax: number;
  celebrityThreshold: number;
  inactiveDays: number;
  rebuildTimeoutMs: number;
  rebuildsMax: number;
  observer: NewsFeedObserver;
}

/** A reader is "seen" at most this often, so reads do not write to Postgres each time. */
const SEEN_RESOLUTION_MS = 60_000;
/** Readers whose last-seen time this process remembers (the oldest is forgotten first). */
const SEEN_ENTRIES_MAX = 100_000;
const DAY_MS = 86_400_000;

export class NewsFeed {
  private readonly reader: FeedReader;
  private readonly rebuilds = new Map<string, Promise<void>>();
  private readonly seenAt = new Map<string, number>();

  constructor(private readonly options: NewsFeedOptions) {
    this.reader = new FeedReader(options.timelines, options.posts, options.hydrator, options.feedMax);
  }

  get mode(): FanoutMode {
    return this.options.mode;
  }

  async register(userId: string, displayName: string): Promise<{ user: User; created: boolean }> {
    const result = await this.options.social.upsertUser(userId, displayName, this.options.nowMs());
    // A new user follows nobody: their feed is complete, and empty.
    if (result.created) await this.options.timelines.buildFeed(userId, [], FLOOR_NONE);
    return result;
  }

  profile(userId: string): Promise<User> {
    return this.options.social.requireUser(userId);
  }

  async follow(follower: string, followee: string): Promise<boolean> {
    if (follower === followee) throw new SelfRelationError('follow');
    const { created, followee: target } = await this.options.social.follow(
      follower,
      followee,
      this.options.nowMs(),
      { followingMax: this.options.followingMax, celebrityThreshold: this.options.celebrityThreshold },
    );
    if (target.celebrity) await this.options.timelines.markCelebrity(followee);
    await this.options.hydrator.forgetGraphs([follower]);
    if (created && deliveryOf(this.options.mode, target.celebrity) === 'push') {
      // The new followee's recent posts join the feed at once, as the fanout would have put them there.
      const recent = await this.options.posts.authorPage(followee, TOP, this.options.feedMax);
      await this.options.timelines.mergeIntoFeed(follower, recent, floorOf(recent, this.options.feedMax));
    }
    return created;
  }

  async unfollow(follower: string, followee: string): Promise<boolean> {
    if (follower === followee) throw new SelfRelationError('unfollow');
    const removed = await this.options.social.unfollow(follower, followee);
    // The followee's posts stay in the cached feed and are filtered at read by the graph.
    await this.options.hydrator.forgetGraphs([follower]);
    return removed;
  }

  async block(user: string, target: string): Promise<boolean> {
    if (user === target) throw new SelfRelationError('block');
    const changed = await this.options.social.block(user, target);
    await this.options.hydrator.forgetGraphs([user, target]);
    return changed;
  }

  async unblock(user: string, target: string): Promise<boolean> {
    if (user === target) throw new SelfRelationError('unblock');
    const changed = await this.options.social.unblock(user, target);
    await this.options.hydrator.forgetGraphs([user, target]);
    return changed;
  }

  async mute(user: string, target: string): Promise<boolean> {
    if (user === target) throw new SelfRelationError('mute');
    const changed = await this.options.social.mute(user, target);
    await this.options.hydrator.forgetGraphs([user]);
    return changed;
  }

  async unmute(user: string, target: string): Promise<boolean> {
    if (user === target) throw new SelfRelationError('unmute');
    const changed = await this.options.social.unmute(user, target);
    await this.options.hydrator.forgetGraphs([user]);
    return changed;
  }

  /**
   * Publishes a post. The event goes on the bus before the row commits, so a crash between the two
   * can leave an announced post that never committed (hydration finds no row and hides it) but
   * never a committed post nobody fans out. A retry with the same Idempotency-Key answers the
   * first post.
   */
  async post(
    author: string,
    text: string,
    idempotencyKey: string | undefined,
    requestId: string,
  ): Promise<{ post: FeedItem; created: boolean }> {
    await this.requireRegistered(author);
    await this.admit(author);
    const id = await this.options.nextId();
    const createdMs = this.options.nowMs();
    const event: PostEvent = { postId: id.toString(), author, score: scoreOfId(id), createdMs };
    await this.options.bus.publish(this.options.postsTopic, author, event, { 'x-request-id': requestId });
    const idempotency =
      idempotencyKey === undefined
        ? undefined
        : { key: idempotencyKey, requestHash: createHash('sha256').update(text).digest('hex') };
    const { post, created } = await this.options.posts.create(
      { id, author, score: event.score, body: text, createdMs },
      idempotency,
    );
    if (created) await this.afterCreate(post);
    return { post: this.itemOf(post), created };
  }

  /** The author sees their post at once: their own timeline and feed, before any worker runs. */
  private async afterCreate(post: PostRecord): Promise<void> {
    const candidate: Candidate = { id: post.id, author: post.author, score: post.score };
    await this.options.hydrator.putPost(post);
    await this.options.timelines.addToTimeline(candidate);
    if (this.options.mode !== 'read') await this.options.timelines.pushToFeeds([post.author], candidate);
  }

  async deletePost(caller: string, postId: bigint): Promise<void> {
    const { post } = await this.options.posts.delete(postId, caller);
    await this.options.hydrator.putPost(post);
    await this.options.timelines.removeFromTimeline({ id: post.id, author: post.author, score: post.score });
  }

  async like(user: string, postId: bigint): Promise<boolean> {
    const created = await this.options.posts.like(postId, user, this.options.nowMs());
    await this.options.hydrator.forgetCounters(postId);
    await this.options.hydrator.forgetActions(user, postId);
    return created;
  }

  async unlike(user: string, postId: bigint): Promise<boolean> {
    const removed = await this.options.posts.unlike(postId, user);
    await this.options.hydrator.forgetCounters(postId);
    await this.options.hydrator.forgetActions(user, postId);
    return removed;
  }

  async reply(author: string, postId: bigint, text: string): Promise<Reply> {
    await this.requireRegistered(author);
    await this.admit(author);
    const reply: Reply = {
      id: await this.options.nextId(),
      postId,
      author,
      body: text,
      createdMs: this.options.nowMs(),
    };
    await this.options.posts.reply(reply);
    await this.options.hydrator.forgetCounters(postId);
    await this.options.hydrator.forgetActions(author, postId);
    return reply;
  }

  async replies(postId: bigint, before: bigint | undefined, limit: number): Promise<Reply[]> {
    await this.options.posts.requireLive(postId);
    return this.options.posts.replies(postId, before, limit);
  }

  async getPost(reader: string, postId: bigint): Promise<FeedItem> {
    const post = await this.options.posts.requireLive(postId);
    const candidate: Candidate = { id: post.id, author: post.author, score: post.score };
    const [item] = await this.options.hydrator.items(reader, [candidate], new Map([[post.id, post]]));
    return item!;
  }

  /**
   * The reader's home feed after `cursor`. A reader back after INACTIVE_DAYS (or whose cached feed
   * is gone) gets pages built from Postgres with `rebuilding: true` while the feed is rebuilt in
   * the background: never an empty page for a feed that has posts.
   */
  async feed(
    reader: string,
    cursor: string | undefined,
    limit: number,
  ): Promise<Page & { rebuilding: boolean }> {
    const after = cursor === undefined ? TOP : decodeCursor(cursor);
    const { mode, timelines } = this.options;
    // The read that claims a rebuild says so, even when the rebuild settles before the page is read.
    const claimed = await this.see(reader);
    const graph = await this.options.hydrator.graphOf(reader);
    const view: ReaderView = {
      visibleAuthors: new Set([...graph.followees, reader]),
      hiddenAuthors: new Set(graph.hidden),
      deleted: new Set(),
    };
    const sources = mode === 'write' ? [] : await this.reader.pulledSources(mode, reader, graph.followees);
    let rebuilding = claimed && mode !== 'read';
    if (mode !== 'read' && !rebuilding) {
      const floor = await timelines.feedFloor(reader);
      if (floor === undefined) {
        // The cached feed is gone (evicted, or the mode changed): rebuild it as for a returning user.
        const startedMs = this.options.nowMs();
        await this.options.social.claimRebuild(reader, startedMs);
        await timelines.beginRebuild(reader);
        this.startRebuild(reader, startedMs);
        rebuilding = true;
      } else if (floor >= REBUILDING_FLOOR) rebuilding = true;
      else sources.push({ key: timelines.feedKey(reader), floor });
    }
    const { page, stats } = await this.reader.page(
      reader,
      rebuilding ? [] : sources,
      view,
      after,
      limit,
      (before, count) => this.options.posts.feedPage(reader, before, count),
    );
    this.options.observer.pageRead(mode, stats, rebuilding);
    return { ...page, rebuilding };
  }

  /**
   * Records the read in Postgres at most once a minute per reader and process (a read is not a
   * write). That is also when a return after INACTIVE_DAYS, or a rebuild stalled past
   * REBUILD_TIMEOUT_MS, is noticed and claimed: the feed is marked rebuilding at once, so every
   * replica serves it from Postgres until the rebuild settles its floor.
   */
  private async see(reader: string): Promise<boolean> {
    const nowMs = this.options.nowMs();
    const lastMs = this.seenAt.get(reader);
    if (lastMs !== undefined && nowMs >= lastMs && nowMs - lastMs < SEEN_RESOLUTION_MS) return false;
    const seen = await this.options.social.seen(reader, nowMs, {
      resolutionMs: SEEN_RESOLUTION_MS,
      inactiveBeforeMs: nowMs - this.options.inactiveDays * DAY_MS,
      rebuildTimeoutMs: this.options.rebuildTimeoutMs,
    });
    this.seenAt.delete(reader);
    this.seenAt.set(reader, nowMs);
    if (this.seenAt.size > SEEN_ENTRIES_MAX) this.seenAt.delete(this.seenAt.keys().next().value as string);
    if (!seen.startRebuild) return false;
    if (this.options.mode !== 'read') await this.options.timelines.beginRebuild(reader);
    this.startRebuild(reader, seen.rebuildStartedMs!);
    return true;
  }

  /** An author's own posts, newest first: their timeline set, then Postgres past it. */
  async userPosts(reader: string, author: string, cursor: string | undefined, limit: number): Promise<Page> {
    const after: FeedPosition = cursor === undefined ? TOP : decodeCursor(cursor);
    await this.options.social.requireUser(author);
    const [built] = await this.options.timelines.timelineFloors([author]);
    const floor = built ?? (await this.reader.fillTimeline(author));
    const view: ReaderView = {
      visibleAuthors: new Set([author]),
      hiddenAuthors: new Set(),
      deleted: new Set(),
    };
    const { page } = await this.reader.page(
      reader,
      [{ key: this.options.timelines.timelineKey(author), floor }],
      view,
      after,
      limit,
      (before, count) => this.options.posts.authorPage(author, before, count),
    );
    return page;
  }

  /** Waits for the rebuilds this process runs (shutdown, tests). */
  async settle(): Promise<void> {
    while (this.rebuilds.size > 0) await Promise.allSettled([...this.rebuilds.values()]);
  }

  private startRebuild(reader: string, startedMs: number): void {
    if (this.options.mode === 'read') {
      // Nothing is cached per reader on read: the feed is whole at once.
      void this.options.social.finishRebuild(reader, startedMs).catch((error: unknown) => {
        this.options.observer.rebuildFailed(reader, error);
      });
      return;
    }
    if (this.rebuilds.has(reader) || this.rebuilds.size >= this.options.rebuildsMax) return;
    const run = this.rebuild(reader, startedMs)
      .catch((error: unknown) => this.options.observer.rebuildFailed(reader, error))
      .finally(() => this.rebuilds.delete(reader));
    this.rebuilds.set(reader, run);
  }

  /**
   * Rebuilds a home feed from Postgres. The caller marked the feed built but trusted nowhere, so
   * posts fanned out while the rebuild reads are kept; the newest FEED_MAX posts are added and the
   * floor set to what they cover.
   */
  private async rebuild(reader: string, startedMs: number): Promise<void> {
    const began = performance.now();
    const { timelines, posts, feedMax } = this.options;
    const candidates = await posts.feedPage(reader, TOP, feedMax);
    await timelines.settleFeed(reader, candidates, floorOf(candidates, feedMax));
    await this.options.social.finishRebuild(reader, startedMs);
    this.options.observer.rebuilt(reader, candidates.length, performance.now() - began);
  }

  private async requireRegistered(userId: string): Promise<void> {
    if ((await this.options.social.getUser(userId)) === undefined) throw new NotRegisteredError(userId);
  }

  private async admit(author: string): Promise<void> {
    let result: Awaited<ReturnType<Limiter['limit']>>;
    try {
      result = await this.options.limiter.limit(author);
    } catch (error) {
      // Fail open: a limiter outage must not stop posting; it is counted and logged.
      this.options.observer.limiterUnavailable(error);
      return;
    }
    if (!result.allowed) throw new PostRateLimitedError(result.retryAfterMs);
  }

  private itemOf(post: PostRecord): FeedItem {
    return {
      id: post.id.toString(),
      author: post.author,
      text: post.body,
      createdAt: new Date(post.createdMs).toISOString(),
      likes: 0,
      replies: 0,
      liked: false,
      replied: false,
    };
  }
}
