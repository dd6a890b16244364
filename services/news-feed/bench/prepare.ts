import { waitFor } from '@sysdesign/testkit';
import { recount, seededRandom, seedGraph, userIdOf } from '../src/seed.js';
import type { NewsFeedParts } from '../src/service.js';

/**
 * The graph and posts every bench runs on, the same for each fanout mode: a power-law graph of
 * GRAPH_USERS users (3 celebrities each followed by 40 %), POSTS posts by power-law authors, and
 * the reader `u000007`, who follows exactly READER_FOLLOWING accounts (its feed is the one read).
 */

export const GRAPH_USERS = 500;
export const POSTS = 400;
export const READER = userIdOf(7);
export const READER_FOLLOWING = 100;
export const CELEBRITY_THRESHOLD = 100;

export async function prepare(parts: NewsFeedParts): Promise<void> {
  const nowMs = Date.now();
  await seedGraph(parts.sql, {
    users: GRAPH_USERS,
    meanFollowing: 40,
    celebrities: 3,
    celebrityReach: 0.4,
    alpha: 1,
    celebrityThreshold: CELEBRITY_THRESHOLD,
    seed: 7,
    nowMs,
  });
  await parts.sql.query('DELETE FROM follows WHERE follower = $1', [READER]);
  const followees = Array.from({ length: READER_FOLLOWING }, (_, index) =>
    userIdOf(index < 7 ? index : index + 1),
  );
  await parts.sql.query(
    `INSERT INTO follows (follower, followee, created_ms) SELECT $1, followee, $3 FROM unnest($2::text[]) AS followee`,
    [READER, followees, nowMs],
  );
  await recount(parts.sql, CELEBRITY_THRESHOLD);
  const { rows } = await parts.sql.query<{ id: string }>('SELECT id FROM users WHERE celebrity');
  for (const { id } of rows) await parts.timelines.markCelebrity(id);
  // The reader's feed is built before the posts, so the fanout maintains it as it would a live user's.
  await parts.feed.feed(READER, undefined, 20);
  await parts.feed.settle();
  const random = seededRandom(11);
  for (let index = 0; index < POSTS; index += 1) {
    const author = userIdOf(Math.floor(random() * random() * GRAPH_USERS));
    await parts.feed.post(author, `post ${index} by ${author}`, undefined, 'bench');
  }
  const worker = parts.worker!;
  await waitFor(
    () => worker.stats.posts >= POSTS && worker.stats.batches >= worker.stats.batchesPublished,
    'the fanout of the bench posts',
    { timeoutMs: 600_000, intervalMs: 50 },
  );
}
