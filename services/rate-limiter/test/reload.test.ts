import type { ServiceApp } from '@sysdesign/platform';
import { waitFor } from '@sysdesign/testkit';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { buildFromEnv, check, metricValue, rulesDir } from './helpers.js';

/**
 * The rules file is watched: a valid change applies without a restart; an invalid one is refused,
 * logged and counted, and the rules in force stay. Counters survive reloads.
 */

const rulesWith = (limit: number) => `
domain: reload
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: ${limit}, algorithm: fixed_window }
  - key: other
    rate_limit: { unit: hour, requests_per_unit: 100 }
`;

let rules: Awaited<ReturnType<typeof rulesDir>>;
let app: ServiceApp;

beforeEach(async () => {
  rules = await rulesDir(rulesWith(1));
  app = await buildFromEnv({ RULES_FILE: rules.file, RULES_WATCH: 'true' });
});
afterEach(async () => {
  await app.close();
  await rules.remove();
});

async function rulesVersion(): Promise<{
  version: number;
  lastRejectedReload: { problems: string[] } | null;
}> {
  return (await app.inject({ url: '/v1/rules' })).json();
}

const reloads = (result: string) =>
  metricValue(app, new RegExp(`^ratelimit_rules_reloads_total\\{.*result="${result}"`));

it('applies a valid change without a restart, keeping the counters', async () => {
  // Limit 1 used up; the file raises it to 3: the same client gets exactly 2 more.
  expect((await check(app, 'reload', [['user', 'u1']])).status).toBe(200);
  expect((await check(app, 'reload', [['user', 'u1']])).status).toBe(429);
  await rules.write(rulesWith(3));
  await waitFor(async () => (await rulesVersion()).version === 2, 'the reload to apply');
  const after = [];
  for (let call = 0; call < 3; call++) after.push((await check(app, 'reload', [['user', 'u1']])).status);
  expect(after).toEqual([200, 200, 429]);
  expect(await reloads('applied')).toBe(1);
  expect(await metricValue(app, /^ratelimit_rules_loaded\{/)).toBe(2);
});

it('refuses an invalid change, keeps the rules in force, and says why', async () => {
  // A typo in the unit: the reload is counted as invalid and /v1/rules shows the problem.
  await rules.write(rulesWith(5).replace('unit: hour', 'unit: fortnight'));
  await waitFor(async () => (await reloads('invalid')) === 1, 'the invalid reload to be counted');
  const state = await rulesVersion();
  expect(state.version).toBe(1);
  expect(state.lastRejectedReload?.problems.join('\n')).toContain('rate_limit.unit');
  // Still limit 1, not 5.
  expect((await check(app, 'reload', [['user', 'u2']])).status).toBe(200);
  expect((await check(app, 'reload', [['user', 'u2']])).status).toBe(429);
  // Fixing the file applies it.
  await rules.write(rulesWith(5));
  await waitFor(async () => (await rulesVersion()).version === 2, 'the fixed file to apply');
  expect((await check(app, 'reload', [['user', 'u2']])).status).toBe(200);
});

it('refuses broken YAML and a deleted file the same way', async () => {
  // Neither leaves the service without rules.
  await rules.write('domain: reload\ndescriptors:\n  - key: [unclosed');
  await waitFor(async () => (await reloads('invalid')) === 1, 'the broken YAML to be refused');
  await rules.remove();
  await waitFor(async () => (await reloads('invalid')) === 2, 'the missing file to be refused');
  expect((await rulesVersion()).version).toBe(1);
  expect((await check(app, 'reload', [['other', 'x']])).body.reason).toBe('within_limit');
});

it('does not count a rewrite with the same content as a reload', async () => {
  // Editors touch files; only a change in content is a reload.
  await rules.write(rulesWith(1));
  await rules.write(rulesWith(2));
  await waitFor(async () => (await rulesVersion()).version === 2, 'the change to apply');
  await rules.write(rulesWith(2));
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect((await rulesVersion()).version).toBe(2);
  expect(await reloads('applied')).toBe(1);
});

it('refuses to start with an invalid rules file, naming the problem', async () => {
  // A service that starts without its limits would silently allow everything.
  const broken = await rulesDir('domain: x\ndescriptors:\n  - key: k\n    rate_limit: { unit: second }');
  try {
    await expect(buildFromEnv({ RULES_FILE: broken.file })).rejects.toThrow(
      'needs unit and requests_per_unit',
    );
    await expect(buildFromEnv({ RULES_FILE: `${broken.file}.missing` })).rejects.toThrow('cannot read');
  } finally {
    await broken.remove();
  }
});
