import type { Redis } from 'ioredis';

/**
 * Key names and Lua scripts of the Redis Streams bus, named once here. Every script touches one
 * key, passed in KEYS, so each runs on Redis Cluster whatever slot its key hashes to.
 *
 *   <prefix>topics                              hash: topic -> partition count (first writer wins)
 *   <prefix><topic>:<partition>                 the partition's stream (entries: key, value, headers)
 *   <prefix><topic>:<partition>  (XGROUP)       one consumer group per bus group, on each stream
 *   <prefix><topic>|<group>:members             sorted set: subscription id -> expiry (Redis ms)
 *   <prefix><topic>|<group>:owner:<partition>   the partition's owner in the group: a lease with a TTL
 *   <prefix><topic>|<group>:changes             Pub/Sub channel: a member joined, left or gave a partition back
 *
 * Topic and group names cannot contain `:` or `|` (assertBusName), so no two names collide.
 */

/** The stream fields of one message: its key, its value as JSON, its headers as a JSON object. */
export const ENTRY_FIELDS = { key: 'key', value: 'value', headers: 'headers' } as const;

export interface BusKeys {
  topics: string;
  stream(topic: string, partition: number): string;
  members(topic: string, group: string): string;
  owner(topic: string, group: string, partition: number): string;
  changes(topic: string, group: string): string;
}

export function busKeys(prefix: string): BusKeys {
  return {
    topics: `${prefix}topics`,
    stream: (topic, partition) => `${prefix}${topic}:${partition}`,
    members: (topic, group) => `${prefix}${topic}|${group}:members`,
    owner: (topic, group, partition) => `${prefix}${topic}|${group}:owner:${partition}`,
    changes: (topic, group) => `${prefix}${topic}|${group}:changes`,
  };
}

const REGISTER_TOPIC_SCRIPT = `
-- Registers a topic's partition count unless it is known; the first count written stays.
-- KEYS[1] topics hash; ARGV[1] topic, ARGV[2] partitions wanted, ARGV[3] most topics allowed.
-- Returns the topic's partition count, or -1 when the registry is full.
local rcall = redis.call
local known = rcall('HGET', KEYS[1], ARGV[1])
if known then return tonumber(known) end
if rcall('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
rcall('HSET', KEYS[1], ARGV[1], ARGV[2])
return tonumber(ARGV[2])
`;

const HEARTBEAT_SCRIPT = `
-- A subscription says it is alive, and learns who else in its group is.
-- KEYS[1] members sorted set; ARGV[1] subscription id, ARGV[2] session ms, ARGV[3] most members.
-- Expired members are removed first; a new member beyond the limit is refused with -1.
-- Returns the live members' ids in byte order (the order assignment uses).
-- Time is Redis's, so members with skewed clocks agree on who expired.
local rcall = redis.call
local time = rcall('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
rcall('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowMs)
if not rcall('ZSCORE', KEYS[1], ARGV[1]) and rcall('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return -1
end
rcall('ZADD', KEYS[1], nowMs + tonumber(ARGV[2]), ARGV[1])
rcall('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
local members = rcall('ZRANGE', KEYS[1], 0, -1)
table.sort(members)
return members
`;

const LEAVE_SCRIPT = `
-- A subscription leaves its group. KEYS[1] members sorted set; ARGV[1] subscription id.
return redis.call('ZREM', KEYS[1], ARGV[1])
`;

const HOLD_SCRIPT = `
-- Takes a partition's lease when free, or extends it when ours.
-- KEYS[1] owner key; ARGV[1] subscription id, ARGV[2] lease ms. Returns 1 when held, 0 when not.
local rcall = redis.call
local owner = rcall('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
rcall('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

const RELEASE_SCRIPT = `
-- Gives a partition's lease back, only if it is still ours.
-- KEYS[1] owner key; ARGV[1] subscription id. Returns 1 when released.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export const REGISTRY_FULL = -1;
export const GROUP_FULL = -1;

export interface BusScripts {
  busRegisterTopic(topicsKey: string, topic: string, partitions: number, topicsMax: number): Promise<number>;
  busHeartbeat(
    membersKey: string,
    member: string,
    sessionMs: number,
    membersMax: number,
  ): Promise<string[] | number>;
  busLeave(membersKey: string, member: string): Promise<number>;
  busHold(ownerKey: string, member: string, leaseMs: number): Promise<number>;
  busRelease(ownerKey: string, member: string): Promise<number>;
}

/** The scripts on `redis` (EVALSHA, falling back to EVAL once per connection). */
export function busScripts(redis: Redis): BusScripts {
  if (!('busHeartbeat' in redis)) {
    redis.defineCommand('busRegisterTopic', { numberOfKeys: 1, lua: REGISTER_TOPIC_SCRIPT });
    redis.defineCommand('busHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT_SCRIPT });
    redis.defineCommand('busLeave', { numberOfKeys: 1, lua: LEAVE_SCRIPT });
    redis.defineCommand('busHold', { numberOfKeys: 1, lua: HOLD_SCRIPT });
    redis.defineCommand('busRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
  }
  return redis as unknown as BusScripts;
}

/**
 * A stream entry id `<ms>-<seq>` is a 128-bit number (two 64-bit halves); the bus's offset is that
 * number in decimal, so offsets compare and parse (`BigInt`) as they do on the other adapters.
 */
export function offsetOfEntryId(id: string): string {
  const dash = id.indexOf('-');
  if (dash <= 0) return '-1';
  return ((BigInt(id.slice(0, dash)) << 64n) + BigInt(id.slice(dash + 1))).toString();
}

/** The time part of an entry id: when Redis appended it, in ms since the epoch. */
export function timestampOfEntryId(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}
