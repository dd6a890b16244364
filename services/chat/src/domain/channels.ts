import { createHash } from 'node:crypto';

/**
 * Channel ids. A direct channel's id is derived from its two users, so creating it twice (or from
 * either side, or from two instances at once) names the same row; a group's is a snowflake
 * minted by the instance that creates it.
 */

export const CHANNEL_ID = /^(d|g)_[0-9a-z]{1,40}$/;

export function directChannelId(userA: string, userB: string): string {
  const [first, second] = userA < userB ? [userA, userB] : [userB, userA];
  const digest = createHash('sha256').update(first).update('\u0000').update(second).digest('hex');
  // 128 bits of the digest keep collisions out of reach; base 36 keeps the id short and URL-safe.
  return `d_${BigInt(`0x${digest.slice(0, 32)}`).toString(36)}`;
}

export function groupChannelId(snowflake: bigint): string {
  return `g_${snowflake.toString(36)}`;
}
