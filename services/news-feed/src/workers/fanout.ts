import type { BusMessage, EventBus, Subscription } from '@sysdesign/platform';
import { z } from 'zod';
import type { FanoutMode } from '../config.js';
import { batchesOf, type Delivery, deliveryOf } from '../domain/fanout.js';
import type { Candidate } from '../domain/page.js';
import type { SocialStore } from '../store/social-store.js';
import type { Timelines } from '../store/timelines.js';

/**
 * The fanout, in two consumer groups. The post consumer (one message per post, keyed by author)
 * adds the post to its author's timeline, decides push or pull, and for a push pages through the
 * author's active followers publishing one batch message per FANOUT_BATCH followers. The batch
 * consumer writes the post id into each follower's feed. Every write is an idempotent ZADD of the
 * same member and score, so a redelivered or reordered message (a crash mid-batch, a retry)
 * changes nothing twice, and order in a feed comes from the score, not from delivery order.
 */

const postEventSchema = z.object({
  postId: z.string().regex(/^\d{1,19}$/),
  author: z.string().min(1).max(64),
  score: z.number().int().nonnegative(),
  createdMs: z.number().int().nonnegative(),
});

const batchSchema = postEventSchema.extend({ followers: z.array(z.string().min(1).max(64)).max(10_000) });

export type FanoutBatch = z.infer<typeof batchSchema>;

export interface FanoutObserver {
  posted(delivery: Delivery): void;
  /** One batch written: how many feeds, and how long after the post. */
  batchWritten(feeds: number, lagMs: number): void;
}

export interface FanoutOptions {
  bus: EventBus;
  social: SocialStore;
  timelines: Timelines;
  mode: FanoutMode;
  postsTopic: string;
  batchesTopic: string;
  /** Consumer group names (one per topic); every worker replica joins the same ones. */
  group: string;
  batchSize: number;
  writeChunk: number;
  inactiveDays: number;
  nowMs: () => number;
  observer: FanoutObserver;
}

const DAY_MS = 86_400_000;

export class FanoutWorker {
  /** Counts for tests and the bench: what this worker has handled. */
  readonly stats = { posts: 0, batchesPublished: 0, batches: 0, feedWrites: 0 };
  private readonly subscriptions: Subscription[] = [];

  constructor(private readonly options: FanoutOptions) {}

  async start(): Promise<void> {
    const { bus, postsTopic, batchesTopic, group } = this.options;
    this.subscriptions.push(
      await bus.subscribe(postsTopic, `${group}-posts`, (message) => this.handlePost(message)),
    );
    this.subscriptions.push(
      await bus.subscribe(batchesTopic, `${group}-batches`, (message) => this.handleBatch(message)),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.subscriptions.splice(0).map((subscription) => subscription.close()));
  }

  async handlePost(message: BusMessage): Promise<void> {
    const parsed = postEventSchema.safeParse(message.value);
    // A malformed event is a bug upstream: retrying cannot fix it, so it goes to the dead letters.
    if (!parsed.success) throw new Error(`malformed post event: ${parsed.error.message}`);
    const event = parsed.data;
    const candidate: Candidate = { id: BigInt(event.postId), author: event.author, score: event.score };
    await this.options.timelines.addToTimeline(candidate);
    const author = await this.options.social.getUser(event.author);
    const delivery = deliveryOf(this.options.mode, author?.celebrity ?? false);
    this.stats.posts += 1;
    this.options.observer.posted(delivery);
    if (delivery === 'pull') return;
    const activeSinceMs = this.options.nowMs() - this.options.inactiveDays * DAY_MS;
    let after = '';
    for (;;) {
      const followers = await this.options.social.activeFollowersPage(
        event.author,
        after,
        this.options.batchSize,
        activeSinceMs,
      );
      if (followers.length === 0) return;
      const batch: FanoutBatch = { ...event, followers };
      const requestId = message.headers['x-request-id'];
      await this.options.bus.publish(
        this.options.batchesTopic,
        event.author,
        batch,
        requestId === undefined ? {} : { 'x-request-id': requestId },
      );
      this.stats.batchesPublished += 1;
      after = followers[followers.length - 1]!;
      if (followers.length < this.options.batchSize) return;
    }
  }

  async handleBatch(message: BusMessage): Promise<void> {
    const parsed = batchSchema.safeParse(message.value);
    if (!parsed.success) throw new Error(`malformed fanout batch: ${parsed.error.message}`);
    const batch = parsed.data;
    const candidate: Candidate = { id: BigInt(batch.postId), author: batch.author, score: batch.score };
    let feeds = 0;
    for (const chunk of batchesOf(batch.followers, this.options.writeChunk))
      feeds += await this.options.timelines.pushToFeeds(chunk, candidate);
    this.stats.batches += 1;
    this.stats.feedWrites += feeds;
    this.options.observer.batchWritten(feeds, this.options.nowMs() - batch.createdMs);
  }
}
