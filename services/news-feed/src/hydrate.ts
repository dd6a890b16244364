import type { Candidate } from './domain/page.js';
import { type CacheTier, readThrough, type TierObserver } from './store/cache.js';
import type { Actions, Counters, PostRecord, PostStore } from './store/post-store.js';
import type { SocialStore } from './store/social-store.js';

/**
 * Hydration from the content cache: post content (an in-process hot tier in front of the shared
 * tier), the social graph, actions and counters, each read through to Postgres on a miss.
 */

export interface ContentTiers {
  /** In-process, short-lived: the hottest posts without a round trip. */
  hot: CacheTier;
  content: CacheTier;
  graph: CacheTier;
  actions: CacheTier;
  counters: CacheTier;
}

export interface SocialGraph {
  followees: string[];
  /** Blocked or muted by the reader, or blocking the reader. */
  hidden: string[];
}

export interface FeedItem {
  id: string;
  author: string;
  text: string;
  createdAt: string;
  likes: number;
  replies: number;
  liked: boolean;
  replied: boolean;
}

interface StoredPost {
  id: string;
  author: string;
  score: number;
  body: string;
  createdMs: number;
  deleted: boolean;
}

/**
 * Posts to and from their cached text. Decoded posts are remembered by their text (at most
 * `entriesMax`, oldest dropped first), so a post read again from a tier is not parsed again: the
 * same text always decodes to the same post, and the posts are frozen so no reader can change
 * what the next one gets.
 */
export class PostCodec {
  private readonly decoded = new Map<string, PostRecord>();

  constructor(private readonly entriesMax: number) {
    if (!Number.isInteger(entriesMax) || entriesMax < 1) throw new RangeError('entriesMax must be >= 1');
  }

  get size(): number {
    return this.decoded.size;
  }

  encode(post: PostRecord): string {
    return JSON.stringify({ ...post, id: post.id.toString() } satisfies StoredPost);
  }

  decode(text: string): PostRecord {
    const known = this.decoded.get(text);
    if (known !== undefined) return known;
    const stored = JSON.parse(text) as StoredPost;
    const post: PostRecord = Object.freeze({ ...stored, id: BigInt(stored.id) });
    this.decoded.set(text, post);
    if (this.decoded.size > this.entriesMax) this.decoded.delete(this.decoded.keys().next().value as string);
    return post;
  }
}

function jsonCodec<Value>() {
  return {
    encode: (value: Value) => JSON.stringify(value),
    decode: (text: string) => JSON.parse(text) as Value,
  };
}

export class Hydrator {
  private readonly postCodec: PostCodec;

  constructor(
    private readonly tiers: ContentTiers,
    private readonly posts: PostStore,
    private readonly social: SocialStore,
    private readonly observe: TierObserver,
    decodedPostsMax: number,
  ) {
    this.postCodec = new PostCodec(decodedPostsMax);
  }

  /** Posts by id (missing ones were never committed); deleted ones carry `deleted`. */
  async postsOf(ids: readonly bigint[]): Promise<Map<bigint, PostRecord>> {
    const found = await readThrough(
      [this.tiers.hot, this.tiers.content],
      ids.map(String),
      this.postCodec,
      async (missing) => {
        const rows = await this.posts.getMany(missing.map((id) => BigInt(id)));
        return new Map(rows.map((row) => [row.id.toString(), row]));
      },
      this.observe,
    );
    const result = new Map<bigint, PostRecord>();
    for (const post of found.values()) result.set(post.id, post);
    return result;
  }

  /** Writes a changed post (created, deleted) to both content tiers. */
  async putPost(post: PostRecord): Promise<void> {
    const entry = [[post.id.toString(), this.postCodec.encode(post)] as const];
    await this.tiers.content.setMany(entry);
    await this.tiers.hot.setMany(entry);
  }

  async graphOf(reader: string): Promise<SocialGraph> {
    const found = await readThrough(
      [this.tiers.graph],
      [reader],
      jsonCodec<SocialGraph>(),
      async () => {
        const [followees, hidden] = await Promise.all([
          this.social.followees(reader),
          this.social.hiddenAuthors(reader),
        ]);
        return new Map([[reader, { followees: followees.map((followee) => followee.id), hidden }]]);
      },
      this.observe,
    );
    return found.get(reader)!;
  }

  async forgetGraphs(users: readonly string[]): Promise<void> {
    await this.tiers.graph.deleteMany(users);
  }

  async forgetCounters(postId: bigint): Promise<void> {
    await this.tiers.counters.deleteMany([postId.toString()]);
  }

  async forgetActions(user: string, postId: bigint): Promise<void> {
    await this.tiers.actions.deleteMany([`${user}:${postId}`]);
  }

  /** Each post with its counters and the reader's own actions. */
  async items(
    reader: string,
    page: readonly Candidate[],
    posts: Map<bigint, PostRecord>,
  ): Promise<FeedItem[]> {
    const ids = page.map((candidate) => candidate.id);
    const [counters, actions] = await Promise.all([this.countersOf(ids), this.actionsOf(reader, ids)]);
    return page.map((candidate) => {
      const post = posts.get(candidate.id)!;
      const counted = counters.get(candidate.id.toString()) ?? { likes: 0, replies: 0 };
      const acted = actions.get(`${reader}:${candidate.id}`) ?? { liked: false, replied: false };
      return {
        id: post.id.toString(),
        author: post.author,
        text: post.body,
        createdAt: new Date(post.createdMs).toISOString(),
        likes: counted.likes,
        replies: counted.replies,
        liked: acted.liked,
        replied: acted.replied,
      };
    });
  }

  private countersOf(ids: readonly bigint[]): Promise<Map<string, Counters>> {
    return readThrough(
      [this.tiers.counters],
      ids.map(String),
      jsonCodec<Counters>(),
      async (missing) => {
        const rows = await this.posts.counters(missing.map((id) => BigInt(id)));
        return new Map([...rows].map(([id, value]) => [id.toString(), value]));
      },
      this.observe,
    );
  }

  private actionsOf(reader: string, ids: readonly bigint[]): Promise<Map<string, Actions>> {
    return readThrough(
      [this.tiers.actions],
      ids.map((id) => `${reader}:${id}`),
      jsonCodec<Actions>(),
      async (missing) => {
        const rows = await this.posts.actions(
          reader,
          missing.map((key) => BigInt(key.slice(key.lastIndexOf(':') + 1))),
        );
        return new Map([...rows].map(([id, value]) => [`${reader}:${id}`, value]));
      },
      this.observe,
    );
  }
}
