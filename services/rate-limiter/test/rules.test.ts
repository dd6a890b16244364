import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RULES_FILE } from '../src/config.js';
import { counterKey, matchRule, parseRules, RulesError } from '../src/domain/rules.js';

/** The rules file: Lyft/Envoy's descriptor format, validated strictly, matched Lyft's way. */

const RULES = `
domain: api
descriptors:
  - key: remote_address
    rate_limit: { unit: minute, requests_per_unit: 100 }
  - key: path
    value: /login
    rate_limit: { unit: minute, requests_per_unit: 5, algorithm: sliding_window_log, name: login }
  - key: path
    rate_limit: { unit: second, requests_per_unit: 50 }
  - key: user
    descriptors:
      - key: plan
        value: pro
        algorithm: gcra
        burst: 20
        rate_limit: { unit: second, requests_per_unit: 10 }
  - key: health
    rate_limit: { unlimited: true }
---
domain: messaging
descriptors:
  - key: message_type
    value: marketing
    shadow_mode: true
    rate_limit: { unit: day, requests_per_unit: 5, algorithm: fixed_window }
`;

function problemsOf(yaml: string): string[] {
  try {
    parseRules(yaml);
  } catch (error) {
    if (error instanceof RulesError) return error.problems;
    throw error;
  }
  throw new Error('expected the rules to be refused');
}

describe('parsing rules', () => {
  it('reads domains, nested descriptors, algorithms, bursts, shadow mode and unlimited rules', () => {
    // Every feature of the format in one file, two YAML documents.
    const rules = parseRules(RULES);
    expect([...rules.domains.keys()]).toEqual(['api', 'messaging']);
    const byId = new Map(rules.rules.map((rule) => [rule.id, rule]));
    expect(byId.get('api/remote_address')?.policy).toEqual({
      algorithm: 'token_bucket',
      limit: 100,
      windowMs: 60_000,
    });
    expect(byId.get('api/path=/login')).toMatchObject({
      name: 'login',
      policy: { algorithm: 'sliding_window_log', limit: 5 },
    });
    expect(byId.get('api/user/plan=pro')).toMatchObject({
      path: [{ key: 'user' }, { key: 'plan', value: 'pro' }],
      policy: { algorithm: 'gcra', limit: 10, windowMs: 1_000, burst: 20 },
    });
    expect(byId.get('api/health')?.policy).toBeUndefined();
    expect(byId.get('messaging/message_type=marketing')).toMatchObject({
      shadowMode: true,
      unit: 'day',
      requestsPerUnit: 5,
    });
  });

  it('loads the default rules file shipped with the service', async () => {
    // `pnpm start` with no configuration depends on it.
    const rules = parseRules(await readFile(DEFAULT_RULES_FILE, 'utf8'));
    expect(rules.rules.length).toBeGreaterThan(5);
    expect(rules.domains.has('api')).toBe(true);
  });

  it.each([
    [
      'a misspelt field',
      'domain: a\ndescriptors:\n  - key: k\n    rate_limt: { unit: second, requests_per_unit: 1 }',
      'descriptors[0]',
    ],
    [
      'an unknown unit',
      'domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: week, requests_per_unit: 1 }',
      'rate_limit.unit',
    ],
    [
      'a missing requests_per_unit',
      'domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: second }',
      'needs unit and requests_per_unit',
    ],
    [
      'a fractional requests_per_unit',
      'domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1.5 }',
      'requests_per_unit',
    ],
    [
      'a negative requests_per_unit',
      'domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: -1 }',
      'requests_per_unit',
    ],
    [
      'too many requests per unit',
      'domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 2000000 }',
      'limit',
    ],
    [
      'an unknown algorithm',
      'domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1, algorithm: leaky }',
      'algorithm',
    ],
    [
      'a burst on a window algorithm',
      'domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1, algorithm: fixed_window, burst: 5 }',
      'burst',
    ],
    [
      'a sliding log above 10,000',
      'domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 20000, algorithm: sliding_window_log }',
      'limit',
    ],
    [
      'unlimited with numbers',
      'domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unlimited: true, unit: second, requests_per_unit: 1 }',
      'unlimited excludes',
    ],
    [
      'a duplicate descriptor',
      'domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1 }\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 2 }',
      'duplicate descriptor k',
    ],
    [
      'a duplicate domain',
      'domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1 }\n---\ndomain: a\ndescriptors:\n  - key: j\n    rate_limit: { unit: second, requests_per_unit: 1 }',
      'defined twice',
    ],
    [
      'a descriptor with neither limit nor children',
      'domain: a\ndescriptors:\n  - key: k',
      'neither rate_limit nor descriptors',
    ],
    ['no descriptors', 'domain: a\ndescriptors: []', 'descriptors'],
    [
      'a missing domain',
      'descriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1 }',
      'domain',
    ],
    ['broken YAML', 'domain: a\ndescriptors:\n  - key: [unclosed', 'rules'],
    ['an empty file', '', 'no domain'],
    ['a list instead of a mapping', '- domain: a', 'rules'],
  ])('refuses %s, naming where', (_label, yaml, where) => {
    // A typo must never silently disable a limit: every problem is an error that says where it is.
    expect(problemsOf(yaml).join('\n')).toContain(where);
  });

  it('refuses descriptors nested deeper than 8 levels', () => {
    // Bounded depth keeps matching cheap and requests small.
    let yaml = 'domain: a\ndescriptors:\n';
    for (let depth = 0; depth < 10; depth++)
      yaml += `${'  '.repeat(depth * 2)}  - key: k${depth}\n${'  '.repeat(depth * 2)}    descriptors:\n`;
    yaml += `${'  '.repeat(20)}  - key: leaf\n${'  '.repeat(20)}    rate_limit: { unit: second, requests_per_unit: 1 }\n`;
    expect(problemsOf(yaml).join('\n')).toContain('deeper than 8');
  });
});

describe('matching descriptors', () => {
  const rules = parseRules(RULES);
  const api = rules.domains.get('api')!;
  const match = (...entries: [string, string][]) =>
    matchRule(
      api,
      entries.map(([key, value]) => ({ key, value })),
    )?.id;

  it('prefers the node with the same value over the key-only node', () => {
    // /login has its own rule; every other path falls to the key-only rule.
    expect(match(['path', '/login'])).toBe('api/path=/login');
    expect(match(['path', '/other'])).toBe('api/path');
  });

  it('applies the rule of the node the last entry reaches, walking nested descriptors', () => {
    // [user, plan=pro] reaches the nested rule; [user] alone reaches a node without a limit.
    expect(match(['user', 'u1'], ['plan', 'pro'])).toBe('api/user/plan=pro');
    expect(match(['user', 'u1'])).toBeUndefined();
    expect(match(['user', 'u1'], ['plan', 'free'])).toBeUndefined();
  });

  it('matches nothing when the descriptor list runs past the tree or names unknown keys', () => {
    // Lyft's rule: the whole list must match a path; a longer list matches no rule.
    expect(match(['remote_address', '1.2.3.4'], ['path', '/x'])).toBeUndefined();
    expect(match(['unknown', 'x'])).toBeUndefined();
  });

  it('counts each value of a key-only node apart, and cannot be confused by separators', () => {
    // The counter key holds every entry, escaped so that no two descriptor lists share a counter.
    expect(counterKey([{ key: 'ip', value: '1' }])).not.toBe(counterKey([{ key: 'ip', value: '2' }]));
    expect(counterKey([{ key: 'a', value: 'b&c=d' }])).not.toBe(
      counterKey([
        { key: 'a', value: 'b' },
        { key: 'c', value: 'd' },
      ]),
    );
  });
});
