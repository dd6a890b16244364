import { createHash } from 'node:crypto';
import { StartupError } from '@sysdesign/platform';
import {
  ALGORITHMS,
  type Algorithm,
  BURST_ALGORITHMS,
  InvalidPolicyError,
  normalizePolicy,
  type RateLimitPolicy,
} from '@sysdesign/redis-limiters';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';

/**
 * Rate-limit rules in the descriptor format of Lyft's (Envoy's) ratelimit service, one domain per
 * YAML document:
 *
 * ```yaml
 * domain: messaging
 * descriptors:
 *   - key: message_type
 *     value: marketing                 # optional: without it, each distinct value has its own limit
 *     rate_limit: { unit: day, requests_per_unit: 5, algorithm: fixed_window }
 *     shadow_mode: true                # report, never block
 *   - key: user
 *     descriptors:                     # nested: matches the descriptor list [user, plan]
 *       - key: plan
 *         value: free
 *         rate_limit: { unit: minute, requests_per_unit: 10 }
 * ```
 *
 * Our additions: `algorithm` (default `token_bucket`: capacity = requests_per_unit, refilled
 * evenly over the unit) and `burst` (the capacity of the bucket algorithms), in `rate_limit` or
 * beside it. Matching follows Lyft: walk the request's descriptor entries down the tree, at each
 * level preferring the node with the same key and value over the key-only node; the rule is the
 * `rate_limit` of the node reached by the last entry. Anything unknown is an error, so a typo
 * never silently disables a limit.
 */

export const MAX_RULES_FILE_BYTES = 1_048_576;
export const MAX_DOMAINS = 100;
export const MAX_RULES = 10_000;
export const MAX_DEPTH = 8;
export const MAX_NAME_LENGTH = 256;
/**
 * Alias expansions allowed while the YAML becomes data (the `yaml` package's `maxAliasCount`,
 * stated here rather than inherited): anchors for a shared `rate_limit` stay usable, and a
 * "billion laughs" document is refused before it can expand.
 */
export const MAX_ALIAS_COUNT = 100;

export const UNITS_MS = { second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
export type Unit = keyof typeof UNITS_MS;

export const DEFAULT_ALGORITHM: Algorithm = 'token_bucket';

/** One limit of the tree: what a matching request is counted against. */
export interface Rule {
  /** `<domain>/<key>[=<value>]/...`: the rule's path in the tree, unique, used in responses and metrics. */
  id: string;
  domain: string;
  /** `rate_limit.name` when given, else the id; announced in the RateLimit headers. */
  name: string;
  /** The descriptor entries that lead to this rule; a missing value matches any value. */
  path: { key: string; value?: string }[];
  /** Undefined for `unlimited: true`. */
  policy: RateLimitPolicy | undefined;
  unit: Unit | undefined;
  requestsPerUnit: number | undefined;
  shadowMode: boolean;
  /** A stable limiter name for Redis keys: readable, bounded, without braces. */
  limiterName: string;
}

export interface RuleNode {
  key: string;
  value: string | undefined;
  rule: Rule | undefined;
  children: Map<string, RuleNode>;
}

export interface DomainRules {
  domain: string;
  root: Map<string, RuleNode>;
}

export interface RuleSet {
  domains: Map<string, DomainRules>;
  rules: Rule[];
  /** sha256 of the file's bytes: a reload with unchanged content is not a reload. */
  contentHash: string;
}

/**
 * A rules file refused. At start it is the operator's to fix, so `runStandalone` prints it as one
 * line (a StartupError); on a hot reload the watcher logs it and the rules in force stay.
 */
export class RulesError extends StartupError {
  override name = 'RulesError';
  constructor(readonly problems: string[]) {
    super(`invalid rules: ${problems.join('; ')}`);
  }
}

const name = z.string().min(1).max(MAX_NAME_LENGTH);
const algorithm = z.enum(ALGORITHMS, { error: `must be one of ${ALGORITHMS.join(', ')}` });
const burst = z.number().int().min(1);

const rateLimitSchema = z.strictObject({
  unit: z
    .enum(Object.keys(UNITS_MS) as [Unit, ...Unit[]], { error: 'must be one of second, minute, hour, day' })
    .optional(),
  requests_per_unit: z.number().int('must be a whole number').min(1).optional(),
  unlimited: z.boolean().optional(),
  name: name.optional(),
  algorithm: algorithm.optional(),
  burst: burst.optional(),
});

interface DescriptorInput {
  key: string;
  value?: string | undefined;
  rate_limit?: z.infer<typeof rateLimitSchema> | undefined;
  algorithm?: Algorithm | undefined;
  burst?: number | undefined;
  shadow_mode?: boolean | undefined;
  descriptors?: DescriptorInput[] | undefined;
}

const descriptorSchema: z.ZodType<DescriptorInput> = z.lazy(() =>
  z.strictObject({
    key: name,
    value: z.union([name, z.number().transform(String)]).optional(),
    rate_limit: rateLimitSchema.optional(),
    algorithm: algorithm.optional(),
    burst: burst.optional(),
    shadow_mode: z.boolean().optional(),
    detailed_metric: z.boolean().optional(),
    descriptors: z.array(descriptorSchema).optional(),
  }),
);

const domainSchema = z.strictObject({
  domain: name,
  descriptors: z.array(descriptorSchema).min(1),
});

function limiterNameOf(id: string): string {
  const readable = id.replace(/[{}\s]/g, '_');
  if (readable.length <= 96) return readable;
  return `${readable.slice(0, 80)}~${createHash('sha256').update(id).digest('hex').slice(0, 12)}`;
}

function nodeKey(key: string, value: string | undefined): string {
  return value === undefined ? key : `${key}=${value}`;
}

interface BuildContext {
  domain: string;
  problems: string[];
  rules: Rule[];
}

function ruleOf(
  input: DescriptorInput,
  id: string,
  path: Rule['path'],
  where: string,
  context: BuildContext,
): Rule | undefined {
  const limit = input.rate_limit;
  if (limit === undefined) return undefined;
  const shadowMode = input.shadow_mode ?? false;
  const base = {
    id,
    domain: context.domain,
    name: limit.name ?? id,
    path,
    shadowMode,
    limiterName: limiterNameOf(id),
  };
  if (limit.unlimited) {
    if (limit.unit !== undefined || limit.requests_per_unit !== undefined) {
      context.problems.push(`${where}.rate_limit: unlimited excludes unit and requests_per_unit`);
    }
    return { ...base, policy: undefined, unit: undefined, requestsPerUnit: undefined };
  }
  if (limit.unit === undefined || limit.requests_per_unit === undefined) {
    context.problems.push(`${where}.rate_limit: needs unit and requests_per_unit (or unlimited: true)`);
    return undefined;
  }
  if (limit.algorithm !== undefined && input.algorithm !== undefined) {
    context.problems.push(`${where}: algorithm is given twice (in rate_limit and beside it)`);
  }
  if (limit.burst !== undefined && input.burst !== undefined) {
    context.problems.push(`${where}: burst is given twice (in rate_limit and beside it)`);
  }
  const chosen = limit.algorithm ?? input.algorithm ?? DEFAULT_ALGORITHM;
  const policy: RateLimitPolicy = {
    algorithm: chosen,
    limit: limit.requests_per_unit,
    windowMs: UNITS_MS[limit.unit],
  };
  const chosenBurst = limit.burst ?? input.burst;
  if (chosenBurst !== undefined) {
    if (!BURST_ALGORITHMS.includes(chosen))
      context.problems.push(`${where}: burst applies to ${BURST_ALGORITHMS.join(', ')} only`);
    else policy.burst = chosenBurst;
  }
  try {
    normalizePolicy(policy);
  } catch (error) {
    if (!(error instanceof InvalidPolicyError)) throw error;
    context.problems.push(`${where}.rate_limit: ${error.problems.join('; ')}`);
  }
  return { ...base, policy, unit: limit.unit, requestsPerUnit: limit.requests_per_unit };
}

function buildLevel(
  inputs: DescriptorInput[],
  parent: { id: string; path: Rule['path']; where: string },
  depth: number,
  context: BuildContext,
): Map<string, RuleNode> {
  const parentWhere = parent.where;
  const level = new Map<string, RuleNode>();
  if (depth > MAX_DEPTH) {
    context.problems.push(`${parentWhere}: descriptors nest deeper than ${MAX_DEPTH} levels`);
    return level;
  }
  inputs.forEach((input, index) => {
    const where = `${parentWhere}.descriptors[${index}]`;
    const key = nodeKey(input.key, input.value);
    if (level.has(key)) {
      context.problems.push(`${where}: duplicate descriptor ${key} at this level`);
      return;
    }
    const id = `${parent.id}/${key}`;
    const path = [
      ...parent.path,
      input.value === undefined ? { key: input.key } : { key: input.key, value: input.value },
    ];
    const rule = ruleOf(input, id, path, where, context);
    if (rule !== undefined) context.rules.push(rule);
    const children = buildLevel(input.descriptors ?? [], { id, path, where }, depth + 1, context);
    if (rule === undefined && children.size === 0) {
      context.problems.push(`${where}: has neither rate_limit nor descriptors`);
    }
    level.set(key, { key: input.key, value: input.value, rule, children });
  });
  return level;
}

function zodProblems(error: z.ZodError, where: string): string[] {
  return error.issues.map((issue) => {
    const path = issue.path
      .map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`))
      .join('');
    return `${where}${path}: ${issue.message}`;
  });
}

/**
 * Parses and validates a rules file; throws `RulesError` naming every problem it found. Whatever
 * the parser or the validation throws on a hostile file (an alias bomb, nesting that exhausts the
 * stack) is a `RulesError` too: a bad file is refused, never a crash.
 */
export function parseRules(text: string): RuleSet {
  if (Buffer.byteLength(text) > MAX_RULES_FILE_BYTES)
    throw new RulesError([`the file exceeds ${MAX_RULES_FILE_BYTES} bytes`]);
  try {
    return parseRulesText(text);
  } catch (error) {
    if (error instanceof RulesError) throw error;
    throw new RulesError([`the file cannot be parsed: ${parserMessage(error)}`]);
  }
}

function parserMessage(error: unknown): string {
  if (error instanceof ReferenceError && /alias/i.test(error.message))
    return `it expands aliases beyond ${MAX_ALIAS_COUNT} (a "billion laughs" document?)`;
  if (error instanceof RangeError && /call stack/i.test(error.message)) return 'it nests too deeply';
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

function parseRulesText(text: string): RuleSet {
  const documents = parseAllDocuments(text);
  if (!Array.isArray(documents)) throw new RulesError(['the file holds no YAML document']);
  const problems: string[] = [];
  const domains = new Map<string, DomainRules>();
  const rules: Rule[] = [];
  documents.forEach((document, index) => {
    const where = documents.length > 1 ? `document ${index + 1}` : 'rules';
    for (const error of document.errors) problems.push(`${where}: ${error.message.split('\n')[0]}`);
    if (document.errors.length > 0) return;
    const value: unknown = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    if (value === null || value === undefined) return;
    const parsed = domainSchema.safeParse(value);
    if (!parsed.success) {
      problems.push(...zodProblems(parsed.error, where));
      return;
    }
    const domain = parsed.data.domain;
    if (domains.has(domain)) {
      problems.push(`${where}: domain ${domain} is defined twice`);
      return;
    }
    const context: BuildContext = { domain, problems, rules };
    domains.set(domain, {
      domain,
      root: buildLevel(parsed.data.descriptors, { id: domain, path: [], where }, 1, context),
    });
  });
  if (domains.size === 0 && problems.length === 0) problems.push('the file defines no domain');
  if (domains.size > MAX_DOMAINS) problems.push(`more than ${MAX_DOMAINS} domains`);
  if (rules.length > MAX_RULES) problems.push(`more than ${MAX_RULES} rules`);
  if (problems.length > 0) throw new RulesError(problems);
  return { domains, rules, contentHash: createHash('sha256').update(text).digest('hex') };
}

export interface DescriptorEntry {
  key: string;
  value: string;
}

/**
 * The rule a request's descriptor entries reach, Lyft's way, or undefined when the full list
 * does not match a node with a rate_limit.
 */
export function matchRule(domain: DomainRules, entries: readonly DescriptorEntry[]): Rule | undefined {
  let level = domain.root;
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index]!;
    const node = level.get(`${entry.key}=${entry.value}`) ?? level.get(entry.key);
    if (node === undefined) return undefined;
    if (index === entries.length - 1) return node.rule;
    level = node.children;
  }
  return undefined;
}

/** A UTF-16 surrogate without its partner: under the `u` flag a well-formed pair is one code point, not Cs. */
const LONE_SURROGATE = /\p{Cs}/u;
const LONE_SURROGATES = /\p{Cs}/gu;

/** Whether text is well-formed Unicode (`String.prototype.isWellFormed`, without needing the ES2024 lib). */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * `encodeURIComponent`, which throws a URIError on a lone surrogate, made total: the edge refuses
 * such input, and this keeps a request that slipped past it from becoming a 500. The replacement
 * costs nothing on well-formed text, the only kind the route lets through.
 */
function escapeKeyPart(part: string): string {
  try {
    return encodeURIComponent(part);
  } catch {
    return encodeURIComponent(part.replace(LONE_SURROGATES, '\uFFFD'));
  }
}

/** The counter key of a request under its rule: every entry, so a key-only node counts each value apart. */
export function counterKey(entries: readonly DescriptorEntry[]): string {
  let key = '';
  for (const entry of entries) {
    key += `${key.length === 0 ? '' : '&'}${escapeKeyPart(entry.key)}=${escapeKeyPart(entry.value)}`;
  }
  return key;
}
