import type { ServiceApp } from '@sysdesign/platform';
import {
  type LimitResult,
  type NormalizedPolicy,
  policyHeaderValue,
  writeRateLimitHeaders,
} from '@sysdesign/redis-limiters';
import { z } from 'zod';
import {
  type ActiveRules,
  type CheckOutcome,
  type CheckReason,
  check,
  type FailMode,
} from '../domain/checker.js';
import { isWellFormed, MAX_DEPTH, MAX_NAME_LENGTH, type Rule } from '../domain/rules.js';
import type { RateLimiterMetrics } from '../metrics.js';

export const MAX_HITS = 1_000_000;
export const MAX_VALUE_LENGTH = 1_024;
/** Admitted checks with this share of the capacity or less left count as near the limit. */
const NEAR_LIMIT_REMAINING_SHARE = 0.2;

const REASONS = [
  'within_limit',
  'over_limit',
  'shadow_mode',
  'no_rule',
  'unlimited',
  'fail_open',
  'fail_closed',
] as const;

/** A string of 1..max characters of well-formed Unicode: a lone surrogate is a 400 naming the field. */
const text = (maxLength: number) =>
  z.string().min(1).max(maxLength).refine(isWellFormed, 'must be well-formed Unicode (no lone surrogate)');

const checkBody = z.object({
  domain: text(MAX_NAME_LENGTH).describe('The rules domain, e.g. "api"'),
  descriptors: z
    .array(z.object({ key: text(MAX_NAME_LENGTH), value: text(MAX_VALUE_LENGTH) }))
    .min(1)
    .max(MAX_DEPTH)
    .describe('The descriptor entries, outermost first, matched down the rule tree'),
  hits: z
    .number()
    .int()
    .min(0)
    .max(MAX_HITS)
    .default(1)
    .describe('Units to count (0: look without counting)'),
});

const nullableInt = z.number().int().nullable();
const checkResponse = z.object({
  allowed: z.boolean(),
  reason: z
    .enum(REASONS)
    .describe('What decided: the limit, shadow mode, no rule, or the fail mode when Redis was down'),
  domain: z.string(),
  rule: z.string().nullable().describe('The matched rule id, or null when no rule matches'),
  name: z.string().nullable(),
  algorithm: z.string().nullable(),
  shadowMode: z.boolean(),
  limit: nullableInt,
  remaining: nullableInt,
  resetAfterMs: nullableInt,
  retryAfterMs: nullableInt,
  delayMs: nullableInt.describe('leaking_bucket: how long this request waits to leave at the fixed rate'),
});

type CheckResponse = z.infer<typeof checkResponse>;

function bodyOf(domain: string, outcome: CheckOutcome): CheckResponse {
  const result: LimitResult | undefined = outcome.result;
  return {
    allowed: outcome.allowed,
    reason: outcome.reason,
    domain,
    rule: outcome.rule?.id ?? null,
    name: outcome.rule?.name ?? null,
    algorithm: outcome.policy?.algorithm ?? null,
    shadowMode: outcome.rule?.shadowMode ?? false,
    limit: result?.limit ?? null,
    remaining: result?.remaining ?? null,
    resetAfterMs: result?.resetAfterMs ?? null,
    retryAfterMs: result?.retryAfterMs ?? null,
    delayMs: result?.delayMs ?? null,
  };
}

/** Metric children made once per (domain, rule, result): prom-client hashes labels on every inc() otherwise. */
function metricChildren(metrics: RateLimiterMetrics) {
  const decisions = new Map<string, ReturnType<RateLimiterMetrics['decisions']['labels']>>();
  const nearLimit = new Map<string, ReturnType<RateLimiterMetrics['nearLimit']['labels']>>();
  const shadowMode = new Map<string, ReturnType<RateLimiterMetrics['shadowMode']['labels']>>();
  return {
    decision(domain: string, rule: string, result: CheckReason) {
      const key = `${domain}\u0000${rule}\u0000${result}`;
      let child = decisions.get(key);
      if (child === undefined) {
        child = metrics.decisions.labels(domain, rule, result);
        decisions.set(key, child);
      }
      child.inc();
    },
    nearLimit(domain: string, rule: string) {
      const key = `${domain}\u0000${rule}`;
      let child = nearLimit.get(key);
      if (child === undefined) {
        child = metrics.nearLimit.labels(domain, rule);
        nearLimit.set(key, child);
      }
      child.inc();
    },
    shadowMode(domain: string, rule: string) {
      const key = `${domain}\u0000${rule}`;
      let child = shadowMode.get(key);
      if (child === undefined) {
        child = metrics.shadowMode.labels(domain, rule);
        shadowMode.set(key, child);
      }
      child.inc();
    },
  };
}

export interface CheckRouteDeps {
  active: ActiveRules;
  failMode: FailMode;
  metrics: RateLimiterMetrics;
}

export function registerCheckRoute(app: ServiceApp, deps: CheckRouteDeps): void {
  const count = metricChildren(deps.metrics);
  // The RateLimit-Policy value of a rule never changes while the rule object lives.
  const policyHeaders = new WeakMap<Rule, string>();
  const policyHeaderOf = (rule: Rule, policy: NormalizedPolicy) => {
    let value = policyHeaders.get(rule);
    if (value === undefined) {
      value = policyHeaderValue(rule.name, policy);
      policyHeaders.set(rule, value);
    }
    return value;
  };

  app.post(
    '/v1/check',
    {
      schema: {
        summary: 'Check (and count) a request against the rules',
        description:
          "Matches the descriptor entries against the domain's rule tree and counts `hits` against the matched rule. " +
          '200 when allowed (also when no rule matches, in shadow mode, or failing open), 429 when over the limit ' +
          '(or failing closed). Sets X-RateLimit-*, RateLimit-Policy, RateLimit and, on 429, Retry-After.',
        body: checkBody,
        response: { 200: checkResponse, 429: checkResponse },
      },
      // A plain JSON.stringify: the body is built here from typed values, so validating it again costs for nothing.
      serializerCompiler: () => (data) => JSON.stringify(data),
    },
    async (request, reply) => {
      const { domain, descriptors, hits } = request.body;
      const outcome = await check(deps.active, { domain, entries: descriptors, hits }, deps.failMode);
      const ruleId = outcome.rule?.id ?? '';
      count.decision(domain, ruleId, outcome.reason);
      const { result, rule, policy } = outcome;
      if (result !== undefined && rule !== undefined && policy !== undefined) {
        writeRateLimitHeaders((name, value) => reply.header(name, value), result, {
          name: rule.name,
          policyHeader: policyHeaderOf(rule, policy),
        });
        if (outcome.reason === 'shadow_mode') count.shadowMode(domain, ruleId);
        else if (result.allowed && result.remaining <= result.limit * NEAR_LIMIT_REMAINING_SHARE) {
          count.nearLimit(domain, ruleId);
        }
      }
      reply.code(outcome.allowed ? 200 : 429);
      return bodyOf(domain, outcome);
    },
  );
}
