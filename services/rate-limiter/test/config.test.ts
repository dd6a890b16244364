import { existsSync } from 'node:fs';
import { ConfigError, loadConfig } from '@sysdesign/platform';
import { describe, expect, it } from 'vitest';
import { configSchema, DEFAULT_PORT, DEFAULT_RULES_FILE } from '../src/config.js';
import { rateLimiter } from '../src/index.js';

/** Configuration: embedded defaults that work with no environment, and one clear error per bad variable. */
describe('configuration', () => {
  it('defaults to port 3001, in-memory counters, failing open, and the rules shipped with the service', () => {
    // `pnpm start` with an empty environment must work.
    const config = loadConfig(configSchema, {});
    expect(config).toMatchObject({ PORT: DEFAULT_PORT, FAIL_MODE: 'open', RULES_WATCH: true });
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.RULES_FILE).toBe(DEFAULT_RULES_FILE);
    expect(existsSync(DEFAULT_RULES_FILE)).toBe(true);
    expect(rateLimiter).toMatchObject({ name: 'rate-limiter', defaultPort: 3001 });
  });

  it.each([
    ['FAIL_MODE', 'sometimes'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['REDIS_KEY_PREFIX', 'rl:{all}:'],
    ['REDIS_TIMEOUT_MS', '0'],
    ['BREAKER_COOLDOWN_MS', 'soon'],
    ['OVER_LIMIT_CACHE_TTL_MS', '120000'],
    ['RULES_WATCH', 'maybe'],
  ])('refuses %s=%s, naming the variable', (variable, value) => {
    // Bad configuration fails at start with the variable's name in the message.
    expect(() => loadConfig(configSchema, { [variable]: value })).toThrow(ConfigError);
    expect(() => loadConfig(configSchema, { [variable]: value })).toThrow(variable);
  });
});
