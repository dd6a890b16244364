import {
  type CircuitBreaker,
  type Limiter,
  type LimiterEvents,
  MemoryLimiter,
  MemoryStore,
  type NormalizedPolicy,
  type OverLimitCacheOptions,
  type RedisClient,
  RedisLimiter,
} from '@sysdesign/redis-limiters';
import type { Rule, RuleSet } from '../domain/rules.js';

/**
 * Where the counters live: the in-memory twins (embedded mode, one process) or the Lua scripts on
 * a Redis every instance shares. Both come from @sysdesign/redis-limiters and decide identically.
 * `LimiterSet` holds one limiter per rule of the loaded rules and is rebuilt on every reload;
 * counters survive a reload because they live in the backend's store (Redis, or the one
 * MemoryStore), keyed by the rule's path and algorithm.
 */

export interface LimiterBackend {
  readonly kind: 'memory' | 'redis';
  create(
    rule: Rule & { policy: NonNullable<Rule['policy']> },
  ): Limiter & { readonly policy: NormalizedPolicy };
}

export function memoryBackend(options: {
  maxKeys: number;
  clock?: () => number;
}): LimiterBackend & { store: MemoryStore } {
  const store = new MemoryStore({ maxKeys: options.maxKeys });
  return {
    kind: 'memory',
    store,
    create: (rule) =>
      new MemoryLimiter(rule.policy, {
        name: rule.limiterName,
        prefix: '',
        store,
        ...(options.clock ? { clock: options.clock } : {}),
      }),
  };
}

export interface RedisBackendOptions {
  prefix: string;
  timeoutMs: number;
  breaker: CircuitBreaker;
  overLimitCache: OverLimitCacheOptions | false;
  events: LimiterEvents;
}

export function redisBackend(redis: RedisClient, options: RedisBackendOptions): LimiterBackend {
  return {
    kind: 'redis',
    create: (rule) =>
      new RedisLimiter(redis, rule.policy, {
        name: rule.limiterName,
        prefix: options.prefix,
        timeoutMs: options.timeoutMs,
        breaker: options.breaker,
        overLimitCache: options.overLimitCache,
        events: options.events,
      }),
  };
}

type RuleLimiter = ReturnType<LimiterBackend['create']>;

function samePolicy(a: NormalizedPolicy, b: NonNullable<Rule['policy']>): boolean {
  return (
    a.algorithm === b.algorithm &&
    a.limit === b.limit &&
    a.windowMs === b.windowMs &&
    a.burst === (b.burst ?? b.limit)
  );
}

/** One limiter per limited rule. Rebuilding keeps the limiters whose rule did not change. */
export class LimiterSet {
  private constructor(private readonly limiters: Map<string, RuleLimiter>) {}

  static build(backend: LimiterBackend, rules: RuleSet, previous?: LimiterSet): LimiterSet {
    const limiters = new Map<string, RuleLimiter>();
    for (const rule of rules.rules) {
      if (rule.policy === undefined) continue;
      const kept = previous?.limiters.get(rule.id);
      const limiter =
        kept !== undefined && samePolicy(kept.policy, rule.policy)
          ? kept
          : backend.create({ ...rule, policy: rule.policy });
      limiters.set(rule.id, limiter);
    }
    return new LimiterSet(limiters);
  }

  get(ruleId: string): RuleLimiter | undefined {
    return this.limiters.get(ruleId);
  }
}

/**
 * The rules in force and their limiters, swapped together on a reload (no await in between, so
 * a check never sees new rules with old limiters).
 */
export class LoadedRules {
  rules: RuleSet;
  loadedAt: Date;
  version = 1;
  private limiters: LimiterSet;

  constructor(
    private readonly backend: LimiterBackend,
    rules: RuleSet,
    readonly file: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.rules = rules;
    this.limiters = LimiterSet.build(backend, rules);
    this.loadedAt = new Date(clock());
  }

  apply(rules: RuleSet): void {
    this.limiters = LimiterSet.build(this.backend, rules, this.limiters);
    this.rules = rules;
    this.loadedAt = new Date(this.clock());
    this.version++;
  }

  limiterFor(ruleId: string): RuleLimiter | undefined {
    return this.limiters.get(ruleId);
  }
}
