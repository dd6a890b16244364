import type { Sql } from '@sysdesign/platform';

/**
 * A realistic follow graph for demos and benches: follower counts follow a power law (a user's
 * chance to be followed falls as 1/rank^alpha), following counts are spread around a mean, and a
 * few celebrities are followed by a large share of everyone. Written straight into the tables in
 * chunks (one statement per chunk), with the counters and celebrity flags set from the edges.
 */

export interface SeedOptions {
  users: number;
  /** Mean accounts followed per user. */
  meanFollowing: number;
  /** The first `celebrities` users are followed by `celebrityReach` of everyone. */
  celebrities: number;
  celebrityReach: number;
  /** Exponent of the popularity power law (1 is Zipf). */
  alpha: number;
  celebrityThreshold: number;
  seed: number;
  nowMs: number;
  /** User ids are `<prefix><6 digits>`. */
  prefix?: string;
}

export interface SeedResult {
  users: number;
  follows: number;
  celebrities: number;
  maxFollowers: number;
}

const CHUNK = 5_000;

export function userIdOf(index: number, prefix = 'u'): string {
  return `${prefix}${String(index).padStart(6, '0')}`;
}

/** Deterministic pseudo-random numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    // xorshift32
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

/** The edges of the graph, as [follower, followee] indexes. */
export function powerLawEdges(
  options: Omit<SeedOptions, 'nowMs' | 'celebrityThreshold'>,
): [number, number][] {
  const random = seededRandom(options.seed);
  const cumulative = new Float64Array(options.users);
  let total = 0;
  for (let index = 0; index < options.users; index += 1) {
    total += 1 / (index + 1) ** options.alpha;
    cumulative[index] = total;
  }
  const popular = (): number => {
    const target = random() * total;
    let low = 0;
    let high = options.users - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (cumulative[middle]! < target) low = middle + 1;
      else high = middle;
    }
    return low;
  };
  const edges: [number, number][] = [];
  for (let follower = 0; follower < options.users; follower += 1) {
    const followed = new Set<number>();
    for (let celebrity = 0; celebrity < options.celebrities; celebrity += 1)
      if (celebrity !== follower && random() < options.celebrityReach) followed.add(celebrity);
    // Exponentially spread around the mean, at least one.
    const wanted = Math.min(
      options.users - 1,
      Math.max(1, Math.round(-Math.log(1 - random()) * options.meanFollowing)),
    );
    for (let attempts = 0; followed.size < wanted && attempts < wanted * 4; attempts += 1) {
      const followee = popular();
      if (followee !== follower) followed.add(followee);
    }
    for (const followee of followed) edges.push([follower, followee]);
  }
  return edges;
}

export async function seedGraph(sql: Sql, options: SeedOptions): Promise<SeedResult> {
  const prefix = options.prefix ?? 'u';
  for (let start = 0; start < options.users; start += CHUNK) {
    const ids = Array.from({ length: Math.min(CHUNK, options.users - start) }, (_, offset) =>
      userIdOf(start + offset, prefix),
    );
    await sql.query(
      `INSERT INTO users (id, display_name, created_ms, last_seen_ms)
       SELECT id, id, $2, $2 FROM unnest($1::text[]) AS id ON CONFLICT (id) DO NOTHING`,
      [ids, options.nowMs],
    );
  }
  const edges = powerLawEdges(options);
  for (let start = 0; start < edges.length; start += CHUNK) {
    const chunk = edges.slice(start, start + CHUNK);
    await sql.query(
      `INSERT INTO follows (follower, followee, created_ms)
       SELECT follower, followee, $3 FROM unnest($1::text[], $2::text[]) AS e (follower, followee)
       ON CONFLICT DO NOTHING`,
      [
        chunk.map(([follower]) => userIdOf(follower, prefix)),
        chunk.map(([, followee]) => userIdOf(followee, prefix)),
        options.nowMs,
      ],
    );
  }
  await recount(sql, options.celebrityThreshold);
  const { rows } = await sql.query<{ celebrities: string | number; max_followers: number | null }>(
    'SELECT count(*) FILTER (WHERE celebrity) AS celebrities, max(followers) AS max_followers FROM users',
  );
  return {
    users: options.users,
    follows: edges.length,
    celebrities: Number(rows[0]!.celebrities),
    maxFollowers: rows[0]!.max_followers ?? 0,
  };
}

/** Sets every user's counters and celebrity flag from the edges. */
export async function recount(sql: Sql, celebrityThreshold: number): Promise<void> {
  await sql.query(
    `UPDATE users u SET
       followers = coalesce((SELECT count(*) FROM follows f WHERE f.followee = u.id), 0),
       following = coalesce((SELECT count(*) FROM follows f WHERE f.follower = u.id), 0)`,
  );
  await sql.query('UPDATE users SET celebrity = true WHERE followers >= $1', [celebrityThreshold]);
}
