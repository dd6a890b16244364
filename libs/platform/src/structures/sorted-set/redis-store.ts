import type { Redis } from 'ioredis';
import { SortedSetError, SortedSetFullError } from './errors.js';
import { DEFAULT_SORTED_SET_LIMITS, type SortedSetLimits } from './keyspace.js';
import type { SortedSetStore } from './port.js';
import { checkedByteLength } from './strings.js';
import {
  checkInteger,
  checkScore,
  checkZAddOptions,
  type KeepOrder,
  type RankWithScore,
  type ScoreBound,
  type ScoredMember,
  type ScoreRangeOptions,
  scoreRangeOf,
  type ZAddOptions,
} from './types.js';

/**
 * The Redis adapter: each port call is the Redis command of the same name on `prefix + key`.
 * Arguments are checked here as the twin checks them (so a NaN never reaches Redis and both
 * adapters refuse it with one code); what only Redis can know, a NaN sum or `maxmemory`, comes
 * back as a reply error and is turned into the same `SortedSetError`. Scores travel as text that
 * round-trips exactly: JavaScript's shortest form out, Redis's `%.17g` back.
 *
 * The connection is the caller's (from `createRedis`); this adapter never closes it.
 */

export interface RedisSortedSetStoreOptions {
  /** Prepended to every key, e.g. `leaderboard:`. */
  prefix?: string;
  /** Same bounds on one key and one member as the twin's. */
  maxMemberBytes?: number;
  maxKeyBytes?: number;
}

const NAN_RESULT_REPLY = 'resulting score is not a number';

function formatScore(score: number): string {
  if (score === Number.POSITIVE_INFINITY) return '+inf';
  if (score === Number.NEGATIVE_INFINITY) return '-inf';
  return String(score);
}

function parseScore(reply: string): number {
  if (reply === 'inf' || reply === '+inf') return Number.POSITIVE_INFINITY;
  if (reply === '-inf') return Number.NEGATIVE_INFINITY;
  // Redis stores -0 as 0 in a small set (listpack) but keeps it in a large one (skip list); the
  // port answers 0 for both, as the twin does.
  return Number(reply) + 0;
}

function formatBound(bound: ScoreBound): string {
  if (typeof bound === 'number') return formatScore(bound);
  return (bound.exclusive ? '(' : '') + formatScore(bound.value);
}

function scoredMembers(reply: string[]): ScoredMember[] {
  const entries: ScoredMember[] = [];
  for (let index = 0; index + 1 < reply.length; index += 2) {
    entries.push({ member: reply[index]!, score: parseScore(reply[index + 1]!) });
  }
  return entries;
}

/** Redis's refusals that have a twin code; anything else (a lost connection) is rethrown as it is. */
function translated(error: unknown): unknown {
  const message = (error as Error)?.message ?? '';
  if (message.includes(NAN_RESULT_REPLY)) return new SortedSetError('ZSET_ERR_NAN_RESULT', message);
  if (message.startsWith('OOM ')) return new SortedSetFullError(message, 'redis-maxmemory');
  return error;
}

export class RedisSortedSetStore implements SortedSetStore {
  private readonly prefix: string;
  private readonly limits: Pick<SortedSetLimits, 'maxMemberBytes' | 'maxKeyBytes'>;

  constructor(
    private readonly redis: Redis,
    options: RedisSortedSetStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? '';
    this.limits = {
      maxMemberBytes: options.maxMemberBytes ?? DEFAULT_SORTED_SET_LIMITS.maxMemberBytes,
      maxKeyBytes: options.maxKeyBytes ?? DEFAULT_SORTED_SET_LIMITS.maxKeyBytes,
    };
  }

  async zadd(key: string, entries: readonly ScoredMember[], options: ZAddOptions = {}): Promise<number> {
    checkZAddOptions(options, entries.length);
    const args = [this.key(key), ...this.flags(options)];
    for (const { member, score } of entries) {
      checkScore(score);
      args.push(formatScore(score), this.member(member));
    }
    return (await this.call('zadd', args)) as number;
  }

  async zaddIncr(
    key: string,
    member: string,
    increment: number,
    options: ZAddOptions = {},
  ): Promise<number | null> {
    checkZAddOptions(options, 1);
    const fullKey = this.key(key);
    checkScore(increment, 'increment');
    const args = [fullKey, ...this.flags(options), 'INCR', formatScore(increment), this.member(member)];
    const reply = (await this.call('zadd', args)) as string | null;
    return reply === null ? null : parseScore(reply);
  }

  async zincrby(key: string, increment: number, member: string): Promise<number> {
    const fullKey = this.key(key);
    checkScore(increment, 'increment');
    return parseScore(
      (await this.call('zincrby', [fullKey, formatScore(increment), this.member(member)])) as string,
    );
  }

  async zrem(key: string, members: readonly string[]): Promise<number> {
    const fullKey = this.key(key);
    if (members.length === 0)
      throw new SortedSetError('ZSET_ERR_INVALID_OPTIONS', 'ZREM needs at least one member');
    return (await this.call('zrem', [fullKey, ...members.map((member) => this.member(member))])) as number;
  }

  async zscore(key: string, member: string): Promise<number | null> {
    const reply = (await this.call('zscore', [this.key(key), this.member(member)])) as string | null;
    return reply === null ? null : parseScore(reply);
  }

  async zmscore(key: string, members: readonly string[]): Promise<(number | null)[]> {
    const fullKey = this.key(key);
    if (members.length === 0)
      throw new SortedSetError('ZSET_ERR_INVALID_OPTIONS', 'ZMSCORE needs at least one member');
    const reply = (await this.call('zmscore', [
      fullKey,
      ...members.map((member) => this.member(member)),
    ])) as (string | null)[];
    return reply.map((score) => (score === null ? null : parseScore(score)));
  }

  async zrank(key: string, member: string, rev = false): Promise<number | null> {
    return (await this.call(rev ? 'zrevrank' : 'zrank', [this.key(key), this.member(member)])) as
      | number
      | null;
  }

  /**
   * ZRANK and ZSCORE in one MULTI, so both answers are of the same moment: `ZRANK ... WITHSCORE`
   * needs Redis 7.2, and CI's Redis may be older.
   */
  async zrankWithScore(key: string, member: string, rev = false): Promise<RankWithScore | null> {
    const fullKey = this.key(key);
    const checkedMember = this.member(member);
    const transaction = this.redis.multi();
    if (rev) transaction.zrevrank(fullKey, checkedMember);
    else transaction.zrank(fullKey, checkedMember);
    const replies = await transaction.zscore(fullKey, checkedMember).exec();
    const [rankReply, scoreReply] = replies ?? [];
    const failure = rankReply?.[0] ?? scoreReply?.[0];
    if (failure) throw translated(failure);
    const rank = rankReply?.[1] as number | null;
    const score = scoreReply?.[1] as string | null;
    return rank === null || score === null ? null : { rank, score: parseScore(score) };
  }

  async zrange(
    key: string,
    start: number,
    stop: number,
    options: { rev?: boolean } = {},
  ): Promise<ScoredMember[]> {
    const args = [this.key(key)];
    checkInteger(start, 'start');
    checkInteger(stop, 'stop');
    args.push(String(start), String(stop));
    if (options.rev) args.push('REV');
    args.push('WITHSCORES');
    return scoredMembers((await this.call('zrange', args)) as string[]);
  }

  async zrangeByScore(
    key: string,
    min: ScoreBound,
    max: ScoreBound,
    options: ScoreRangeOptions = {},
  ): Promise<ScoredMember[]> {
    const args = [this.key(key)];
    scoreRangeOf(min, max);
    if (options.rev) args.push(formatBound(max), formatBound(min), 'BYSCORE', 'REV');
    else args.push(formatBound(min), formatBound(max), 'BYSCORE');
    if (options.limit) {
      checkInteger(options.limit.offset, 'offset');
      checkInteger(options.limit.count, 'count');
      args.push('LIMIT', String(options.limit.offset), String(options.limit.count));
    }
    args.push('WITHSCORES');
    return scoredMembers((await this.call('zrange', args)) as string[]);
  }

  async zremRangeByRank(key: string, start: number, stop: number): Promise<number> {
    const fullKey = this.key(key);
    checkInteger(start, 'start');
    checkInteger(stop, 'stop');
    return (await this.call('zremrangebyrank', [fullKey, String(start), String(stop)])) as number;
  }

  async zremRangeByScore(key: string, min: ScoreBound, max: ScoreBound): Promise<number> {
    const fullKey = this.key(key);
    scoreRangeOf(min, max);
    return (await this.call('zremrangebyscore', [fullKey, formatBound(min), formatBound(max)])) as number;
  }

  async zcard(key: string): Promise<number> {
    return (await this.call('zcard', [this.key(key)])) as number;
  }

  async zcount(key: string, min: ScoreBound, max: ScoreBound): Promise<number> {
    const fullKey = this.key(key);
    scoreRangeOf(min, max);
    return (await this.call('zcount', [fullKey, formatBound(min), formatBound(max)])) as number;
  }

  async del(key: string): Promise<boolean> {
    return ((await this.call('del', [this.key(key)])) as number) === 1;
  }

  async keepTop(key: string, count: number, order: KeepOrder): Promise<number> {
    this.key(key);
    checkInteger(count, 'count');
    if (count < 0) throw new SortedSetError('ZSET_ERR_INVALID_OPTIONS', 'keepTop count must not be negative');
    return order === 'highest'
      ? this.zremRangeByRank(key, 0, -count - 1)
      : this.zremRangeByRank(key, count, -1);
  }

  private key(key: string): string {
    checkedByteLength('key', key, this.limits.maxKeyBytes);
    return this.prefix + key;
  }

  private member(member: string): string {
    checkedByteLength('member', member, this.limits.maxMemberBytes);
    return member;
  }

  private flags(options: ZAddOptions): string[] {
    const flags: string[] = [];
    if (options.nx) flags.push('NX');
    if (options.xx) flags.push('XX');
    if (options.gt) flags.push('GT');
    if (options.lt) flags.push('LT');
    if (options.ch) flags.push('CH');
    return flags;
  }

  private async call(command: string, args: string[]): Promise<unknown> {
    try {
      return await this.redis.call(command, ...args);
    } catch (error) {
      throw translated(error);
    }
  }
}
