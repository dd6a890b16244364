import {
  CostExceedsLimitError,
  type Limiter,
  LimiterUnavailableError,
  type LimitResult,
  type NormalizedPolicy,
} from '@sysdesign/redis-limiters';
import { counterKey, type DescriptorEntry, matchRule, type Rule, type RuleSet } from './rules.js';

/**
 * One check, as the design decides it: find the domain, walk the descriptor entries down its
 * rule tree, count the hits against the rule's limiter, then apply shadow mode and the fail mode.
 * The outcome's `reason` says which of these decided.
 */

export type FailMode = 'open' | 'closed';

export type CheckReason =
  | 'within_limit'
  | 'over_limit'
  | 'shadow_mode'
  | 'no_rule'
  | 'unlimited'
  | 'fail_open'
  | 'fail_closed';

export interface CheckRequest {
  domain: string;
  entries: readonly DescriptorEntry[];
  hits: number;
}

export interface CheckOutcome {
  allowed: boolean;
  reason: CheckReason;
  rule: Rule | undefined;
  policy: NormalizedPolicy | undefined;
  /** The limiter's decision, when it made one. */
  result: LimitResult | undefined;
  /** Why the limiter could not decide (fail_open, fail_closed). */
  unavailable: LimiterUnavailableError | undefined;
}

export class UnknownDomainError extends Error {
  override name = 'UnknownDomainError';
  constructor(
    readonly domain: string,
    /** The domains the rules in force have, so the caller can see what it may ask for. */
    readonly knownDomains: readonly string[],
  ) {
    super(`no rules for domain ${domain}`);
  }
}

export class HitsExceedLimitError extends Error {
  override name = 'HitsExceedLimitError';
  constructor(
    readonly hits: number,
    readonly capacity: number,
    readonly ruleId: string,
  ) {
    super(
      `hits (${hits}) exceed the capacity of rule ${ruleId} (${capacity}): such a request can never be admitted`,
    );
  }
}

/** What a checker needs of the loaded rules: swapped as a whole on every reload. */
export interface ActiveRules {
  rules: RuleSet;
  limiterFor(ruleId: string): (Limiter & { readonly policy: NormalizedPolicy }) | undefined;
}

const NO_DECISION = { result: undefined, unavailable: undefined } as const;

export async function check(
  active: ActiveRules,
  request: CheckRequest,
  failMode: FailMode,
): Promise<CheckOutcome> {
  const domain = active.rules.domains.get(request.domain);
  if (domain === undefined) throw new UnknownDomainError(request.domain, [...active.rules.domains.keys()]);
  const rule = matchRule(domain, request.entries);
  if (rule === undefined)
    return { allowed: true, reason: 'no_rule', rule: undefined, policy: undefined, ...NO_DECISION };
  const limiter = active.limiterFor(rule.id);
  if (limiter === undefined)
    return { allowed: true, reason: 'unlimited', rule, policy: undefined, ...NO_DECISION };
  const policy = limiter.policy;
  let result: LimitResult;
  try {
    result = await limiter.limit(counterKey(request.entries), { cost: request.hits });
  } catch (error) {
    if (error instanceof CostExceedsLimitError)
      throw new HitsExceedLimitError(request.hits, error.capacity, rule.id);
    if (!(error instanceof LimiterUnavailableError)) throw error;
    // Shadow mode never blocks, whatever the fail mode says.
    const allowed = failMode === 'open' || rule.shadowMode;
    return {
      allowed,
      reason: allowed ? 'fail_open' : 'fail_closed',
      rule,
      policy,
      result: undefined,
      unavailable: error,
    };
  }
  if (result.allowed)
    return { allowed: true, reason: 'within_limit', rule, policy, result, unavailable: undefined };
  if (rule.shadowMode)
    return { allowed: true, reason: 'shadow_mode', rule, policy, result, unavailable: undefined };
  return { allowed: false, reason: 'over_limit', rule, policy, result, unavailable: undefined };
}
