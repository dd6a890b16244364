import type { ServiceApp } from '@sysdesign/platform';
import { z } from 'zod';
import type { Rule } from '../domain/rules.js';
import type { LoadedRules } from '../store/limiters.js';

const ruleView = z.object({
  id: z.string(),
  name: z.string(),
  descriptors: z.array(z.object({ key: z.string(), value: z.string().optional() })),
  unlimited: z.boolean(),
  unit: z.string().nullable(),
  requestsPerUnit: z.number().int().nullable(),
  algorithm: z.string().nullable(),
  burst: z.number().int().nullable(),
  windowMs: z.number().int().nullable(),
  shadowMode: z.boolean(),
});

const rulesResponse = z.object({
  file: z.string(),
  loadedAt: z.string().describe('ISO 8601: when these rules were loaded'),
  version: z.number().int().describe('1 at start, +1 per applied reload'),
  contentHash: z.string().describe('sha256 of the file the rules came from'),
  lastRejectedReload: z
    .object({ at: z.string(), problems: z.array(z.string()) })
    .nullable()
    .describe('The last reload refused because the file was invalid (the rules above stayed in force)'),
  domains: z.array(z.object({ domain: z.string(), rules: z.array(ruleView) })),
});

function viewOf(rule: Rule): z.infer<typeof ruleView> {
  return {
    id: rule.id,
    name: rule.name,
    descriptors: rule.path,
    unlimited: rule.policy === undefined,
    unit: rule.unit ?? null,
    requestsPerUnit: rule.requestsPerUnit ?? null,
    algorithm: rule.policy?.algorithm ?? null,
    burst: rule.policy === undefined ? null : (rule.policy.burst ?? rule.policy.limit),
    windowMs: rule.policy?.windowMs ?? null,
    shadowMode: rule.shadowMode,
  };
}

export interface RejectedReload {
  at: Date;
  problems: string[];
}

export function registerRulesRoute(
  app: ServiceApp,
  deps: { loaded: LoadedRules; lastRejected: () => RejectedReload | undefined },
): void {
  app.get(
    '/v1/rules',
    {
      schema: {
        summary: 'The rules in force',
        description: 'The loaded rules, when they were loaded, and the last reload refused as invalid.',
        response: { 200: rulesResponse },
      },
    },
    async () => {
      const { loaded } = deps;
      const rejected = deps.lastRejected();
      const byDomain = new Map<string, Rule[]>();
      for (const rule of loaded.rules.rules)
        byDomain.set(rule.domain, [...(byDomain.get(rule.domain) ?? []), rule]);
      return {
        file: loaded.file,
        loadedAt: loaded.loadedAt.toISOString(),
        version: loaded.version,
        contentHash: loaded.rules.contentHash,
        lastRejectedReload: rejected ? { at: rejected.at.toISOString(), problems: rejected.problems } : null,
        domains: [...loaded.rules.domains.keys()].map((domain) => ({
          domain,
          rules: (byDomain.get(domain) ?? []).map(viewOf),
        })),
      };
    },
  );
}
