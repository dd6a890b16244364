import { CircuitBreaker } from './circuit-breaker.js';
import { errorFromScriptCode, LimiterError, LimiterErrorCode, LimiterUnavailableError } from './errors.js';
import { checkKeyPart, checkLimiterOptions, DEFAULT_PREFIX, keyBase, limiterKey } from './keys.js';
import { OverLimitCache, type OverLimitCacheOptions } from './over-limit-cache.js';
import {
  checkCost,
  checkNow,
  type NormalizedPolicy,
  normalizePolicy,
  type RateLimitPolicy,
} from './policy.js';
import type { Limiter, LimitOptions, LimitResult } from './result.js';
import { type LimiterScript, limiterScript } from './scripts.js';

/**
 * A limiter shared by every process that uses the same Redis: one atomic Lua script per
 * decision (one round trip), on the Redis server's clock. Around the script:
 * - a timeout per decision and a circuit breaker, so a slow or dead Redis fails fast with
 *   `LimiterUnavailableError` (the caller applies its fail mode) instead of adding latency;
 * - a short local cache of refused keys, so a flood from a client over its limit stays here.
 */

/**
 * What the limiter uses of an ioredis `Redis` or `Cluster` client. Written out rather than imported,
 * so ioredis stays an optional peer: the declarations of a memory-only user never name it.
 */
export interface RedisClient {
  readonly status: string;
  defineCommand(name: string, definition: { numberOfKeys?: number; lua: string }): void;
  del(...keys: string[]): Promise<number>;
}

export interface LimiterEvents {
  /** Redis answered a decision after `durationMs`. */
  onRedisReply?(durationMs: number): void;
  /** No decision from Redis: it failed, timed out, or was not asked (breaker open, disconnected). */
  onUnavailable?(error: LimiterUnavailableError): void;
  /** A refusal answered from the over-limit cache, without Redis. */
  onCacheHit?(): void;
}

export interface RedisLimiterOptions {
  /** Names the limiter in keys (and headers); limiters with the same name and algorithm share counters. */
  name: string;
  /** Prepended to every key (after the client's own keyPrefix). Default `rl:`. */
  prefix?: string;
  /** The longest a decision may wait for Redis. Default 100 ms. */
  timeoutMs?: number;
  /** Share one breaker between the limiters of one Redis. Default: a breaker of its own. */
  breaker?: CircuitBreaker;
  /** `false` turns the cache off. Default `{ maxKeys: 10_000, maxTtlMs: 1_000 }`. */
  overLimitCache?: OverLimitCacheOptions | false;
  events?: LimiterEvents;
  /** The local clock of the cache, in ms. Default `Date.now`. */
  clock?: () => number;
}

export const DEFAULT_TIMEOUT_MS = 100;
const MAX_TIMEOUT_MS = 60_000;
/**
 * ioredis states in which a command would only wait in the offline queue. `connecting` counts
 * only once the connection has worked before: a client just created is allowed to connect.
 */
const DISCONNECTED_STATES = new Set(['reconnecting', 'close', 'end', 'disconnecting']);

type ScriptCommand = (key: string, ...args: (string | number)[]) => Promise<unknown>;

const definedScripts = new WeakMap<object, Set<string>>();

/** Defines the script as an ioredis command (EVALSHA, falling back to EVAL) once per client. */
function commandOf(redis: RedisClient, script: LimiterScript): ScriptCommand {
  let defined = definedScripts.get(redis);
  if (defined === undefined) {
    defined = new Set();
    definedScripts.set(redis, defined);
  }
  if (!defined.has(script.commandName)) {
    redis.defineCommand(script.commandName, { numberOfKeys: script.numberOfKeys, lua: script.lua });
    defined.add(script.commandName);
  }
  const command = (redis as unknown as Record<string, ScriptCommand>)[script.commandName]!;
  return command.bind(redis);
}

export class RedisLimiter implements Limiter {
  readonly policy: NormalizedPolicy;
  readonly name: string;
  readonly breaker: CircuitBreaker;
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly cache: OverLimitCache | undefined;
  private readonly events: LimiterEvents;
  private readonly clock: () => number;
  private readonly command: ScriptCommand;
  private readonly policyArgs: [number, number, number];
  private hasConnected = false;

  constructor(
    private readonly redis: RedisClient,
    policy: RateLimitPolicy,
    options: RedisLimiterOptions,
  ) {
    checkLimiterOptions('RedisLimiter', options);
    this.policy = normalizePolicy(policy);
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    checkKeyPart('name', options.name);
    checkKeyPart('prefix', prefix);
    this.name = options.name;
    this.base = keyBase(prefix, options.name, this.policy.algorithm);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs < 1 || this.timeoutMs > MAX_TIMEOUT_MS) {
      throw new RangeError(`timeoutMs must be a whole number from 1 to ${MAX_TIMEOUT_MS}`);
    }
    this.breaker = options.breaker ?? new CircuitBreaker();
    this.cache = options.overLimitCache === false ? undefined : new OverLimitCache(options.overLimitCache);
    this.events = options.events ?? {};
    this.clock = options.clock ?? Date.now;
    this.command = commandOf(redis, limiterScript(this.policy.algorithm));
    this.policyArgs = [this.policy.limit, this.policy.windowMs, this.policy.burst];
  }

  async limit(key: string, options: LimitOptions = {}): Promise<LimitResult> {
    const cost = checkCost(options.cost ?? 1, this.policy);
    const explicitNow = options.now === undefined ? '' : checkNow(options.now);
    const redisKey = limiterKey(this.base, key);
    // A replayed schedule (explicit now) must reach the script every time.
    const cache = explicitNow === '' ? this.cache : undefined;
    if (cache !== undefined) {
      const refusal = cache.get(redisKey, cost, this.clock());
      if (refusal !== undefined) {
        this.events.onCacheHit?.();
        return refusal;
      }
    }
    const reply = await this.call(redisKey, explicitNow, cost);
    const result = this.toResult(reply, cost);
    if (cache !== undefined && !result.allowed) cache.remember(redisKey, cost, result, this.clock());
    return result;
  }

  async reset(key: string): Promise<void> {
    const redisKey = limiterKey(this.base, key);
    this.cache?.delete(redisKey);
    await this.redis.del(redisKey);
  }

  private async call(redisKey: string, now: number | '', cost: number): Promise<unknown> {
    if (!this.breaker.allowRequest()) throw this.unavailable(new LimiterUnavailableError('breaker-open'));
    const status = this.redis.status;
    if (DISCONNECTED_STATES.has(status) || (status === 'connecting' && this.hasConnected)) {
      this.breaker.recordFailure();
      throw this.unavailable(new LimiterUnavailableError('disconnected'));
    }
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const pending = this.command(redisKey, now, cost, ...this.policyArgs);
      const timeout = new Promise<never>((_, reject) => {
        // Timers run before the event loop reads sockets: a process busy for longer than the
        // timeout would time out replies already waiting in its socket buffer (and open the
        // breaker under load). setImmediate runs after the socket reads, so an arrived reply wins.
        timer = setTimeout(
          () => setImmediate(() => reject(new LimiterUnavailableError('timeout'))),
          this.timeoutMs,
        );
      });
      // The command may still settle after the timeout; its outcome no longer matters.
      pending.catch(() => undefined);
      const reply = await Promise.race([pending, timeout]);
      this.breaker.recordSuccess();
      this.hasConnected = true;
      this.events.onRedisReply?.(performance.now() - started);
      return reply;
    } catch (error) {
      this.breaker.recordFailure();
      if (error instanceof LimiterUnavailableError) throw this.unavailable(error);
      throw this.unavailable(new LimiterUnavailableError('error', { cause: error }));
    } finally {
      clearTimeout(timer);
    }
  }

  private unavailable(error: LimiterUnavailableError): LimiterUnavailableError {
    this.events.onUnavailable?.(error);
    return error;
  }

  private toResult(reply: unknown, cost: number): LimitResult {
    if (!Array.isArray(reply) || typeof reply[0] !== 'number') {
      throw new LimiterError(
        LimiterErrorCode.UNEXPECTED_REPLY,
        `unexpected reply from a rate-limit script: ${JSON.stringify(reply)}`,
      );
    }
    if (reply[0] < 0) throw errorFromScriptCode(reply[0], { cost, capacity: this.policy.burst });
    const [allowed, limit, remaining, resetAfterMs, retryAfterMs, delayMs] = reply as number[];
    return {
      allowed: allowed === 1,
      limit: limit!,
      remaining: remaining!,
      resetAfterMs: resetAfterMs!,
      retryAfterMs: retryAfterMs!,
      delayMs: delayMs!,
    };
  }
}
