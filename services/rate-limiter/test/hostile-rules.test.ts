import type { ServiceApp } from '@sysdesign/platform';
import { waitFor } from '@sysdesign/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_RULES_FILE_BYTES, parseRules, RulesError } from '../src/domain/rules.js';
import { buildFromEnv, check, metricValue, rulesDir } from './helpers.js';

/**
 * A rules file is trusted to be written by an operator, not to be well-formed: whatever the YAML
 * parser throws on it, a reload is refused (logged, counted, shown by GET /v1/rules) with the
 * rules in force kept, and a start with it fails with a RulesError that says why.
 */

const RULES = `
domain: hostile
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: 1, algorithm: fixed_window }
`;

/** The classic entity-expansion document: nine levels of nine aliases, 9^9 strings once expanded. */
function billionLaughs(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  const names = 'abcdefghi';
  for (let level = 1; level < names.length; level++) {
    const previous = names[level - 1];
    lines.push(`${names[level]}: &${names[level]} [${Array(9).fill(`*${previous}`).join(',')}]`);
  }
  return `${RULES}\n${lines.join('\n')}\n`;
}

/** Lists nested 100,000 deep: a recursive parser or validator would run out of stack. */
const deeplyNested = () => `domain: deep\ndescriptors: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`;

describe('parseRules on hostile documents', () => {
  it('refuses a billion-laughs document as a RulesError that names the alias bound', () => {
    // The yaml package throws a ReferenceError here; it must not escape as one.
    expect(() => parseRules(billionLaughs())).toThrow(RulesError);
    expect(() => parseRules(billionLaughs())).toThrow(/expands aliases beyond \d+/);
  });

  it('refuses deep nesting and an oversized file as RulesErrors', () => {
    expect(() => parseRules(deeplyNested())).toThrow(RulesError);
    expect(() => parseRules(`${RULES}#${'x'.repeat(MAX_RULES_FILE_BYTES)}`)).toThrow(/exceeds/);
  });

  it('still accepts anchors and aliases used within the bound', () => {
    // Sharing one rate_limit between descriptors is what aliases are for.
    const rules = parseRules(`
domain: shared
descriptors:
  - key: a
    rate_limit: &limit { unit: minute, requests_per_unit: 5 }
  - key: b
    rate_limit: *limit
`);
    expect(rules.rules.map((rule) => rule.requestsPerUnit)).toEqual([5, 5]);
  });
});

describe('the watcher given a hostile file', () => {
  let rules: Awaited<ReturnType<typeof rulesDir>>;
  let app: ServiceApp;

  beforeEach(async () => {
    rules = await rulesDir(RULES);
    app = await buildFromEnv({ RULES_FILE: rules.file, RULES_WATCH: 'true' });
  });
  afterEach(async () => {
    await app.close();
    await rules.remove();
  });

  const invalidReloads = () => metricValue(app, /^ratelimit_rules_reloads_total\{.*result="invalid"/);

  it.each([
    ['a billion-laughs document', billionLaughs, /expands aliases/],
    ['lists nested 100,000 deep', deeplyNested, /call stack|nests too deeply/],
    ['a file past the size bound', () => `${RULES}#${'x'.repeat(MAX_RULES_FILE_BYTES)}`, /exceeds/],
  ])('refuses %s, keeps the rules in force, and survives', async (_name, document, problem) => {
    // Before the fix the first of these killed the process with an uncaught ReferenceError.
    await rules.write(document());
    await waitFor(async () => (await invalidReloads()) === 1, 'the hostile file to be refused');
    const state = (await app.inject({ url: '/v1/rules' })).json();
    expect(state.version).toBe(1);
    expect(state.lastRejectedReload.problems.join('\n')).toMatch(problem);
    expect((await check(app, 'hostile', [['user', 'u1']])).status).toBe(200);
    expect((await check(app, 'hostile', [['user', 'u1']])).status).toBe(429);
  });

  it('refuses to start with a billion-laughs file, saying why in a RulesError', async () => {
    const hostile = await rulesDir(billionLaughs());
    try {
      const start = buildFromEnv({ RULES_FILE: hostile.file });
      await expect(start).rejects.toBeInstanceOf(RulesError);
      await expect(start).rejects.toThrow(/expands aliases beyond \d+/);
    } finally {
      await hostile.remove();
    }
  });
});
