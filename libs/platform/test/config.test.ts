import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { authVars, backendVars, ConfigError, intVar, loadConfig, serviceVars } from '../src/config.js';

/**
 * A configuration error names the variable and the rule it broke, and shows the bad value when
 * that helps, but never a secret: errors land in logs and CI output.
 */

const schema = z.object({
  ...serviceVars({ name: 'config-test', port: 3999 }),
  DATABASE_URL: backendVars.DATABASE_URL,
  REDIS_URL: backendVars.REDIS_URL,
  AUTH_SECRET: authVars.AUTH_SECRET,
  CLUSTER_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  SIGNER: z.string().min(32, 'must be at least 32 characters').optional().meta({ secret: true }),
  BATCH_SIZE: intVar(10, 1, 100),
  SHARD_URLS: z
    .string()
    .regex(/^(redis:\/\/[^,\s]+)(,redis:\/\/[^,\s]+)*$/, 'must be redis URLs')
    .optional(),
});

function messageOf(env: Record<string, string>): string {
  try {
    loadConfig(schema, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('the configuration was accepted');
}

describe('loadConfig errors', () => {
  it('shows a refused URL with its password replaced, even when the URL does not parse', async () => {
    // Port 99999 makes `new URL` throw: the redaction cannot rely on a parsed URL.
    const message = messageOf({ DATABASE_URL: 'postgres://admin:hunter2-pw@db.internal:99999/x' });
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain('hunter2-pw');
    expect(message).toContain('postgres://admin:***@db.internal:99999/x');
  });

  it('hides a password that holds an @, and a user that may be a token', () => {
    const withAt = messageOf({ REDIS_URL: 'http://u:p@ss-w0rd@cache:6379' });
    expect(withAt).not.toContain('p@ss-w0rd');
    expect(withAt).not.toContain('ss-w0rd');
    const tokenAsUser = messageOf({ REDIS_URL: 'http://ghp_tokenvalue@cache:6379' });
    expect(tokenAsUser).not.toContain('ghp_tokenvalue');
    expect(tokenAsUser).toContain('http://***@cache:6379');
  });

  it('hides the password of every URL in a list, commas inside a password included', () => {
    const message = messageOf({
      SHARD_URLS: 'redis://a:first-pw@h1:6379,redis://b:second,pw@h2:6379 rediss://third-pw@h3',
    });
    for (const secret of ['first-pw', 'second,pw', 'second', 'third-pw'])
      expect(message).not.toContain(secret);
    expect(message).toContain('redis://a:***@h1:6379,redis://b:***@h2:6379 rediss://***@h3');
  });

  it.each([
    ['AUTH_SECRET', 'short-auth-secret', 'must be at least 32 characters'],
    ['CLUSTER_SECRET', 'tiny-secret', 'must be at least 16 characters'],
    ['SIGNER', 'marked-secret-by-meta', 'must be at least 32 characters'],
  ])('never echoes %s, but names it and the rule', (variable, value, rule) => {
    // A too-short secret is still a secret (often the real one, truncated by a quoting mistake).
    const message = messageOf({ [variable]: value });
    expect(message).toContain(`${variable}: ${rule}`);
    expect(message).toContain('value not shown');
    expect(message).not.toContain(value);
  });

  it('still shows a bad value that is not secret, so the error stays useful', () => {
    const message = messageOf({ BATCH_SIZE: '500', LOG_LEVEL: 'loud', REDIS_URL: 'http://cache:6379' });
    expect(message).toContain('BATCH_SIZE');
    expect(message).toContain('(got "500")');
    expect(message).toContain('(got "loud")');
    expect(message).toContain('(got "http://cache:6379")');
  });

  it('names every bad variable in one error', () => {
    const message = messageOf({ AUTH_SECRET: 'x', DATABASE_URL: 'mysql://root:pw@h/x', PORT: '70000' });
    expect(message).toMatch(/AUTH_SECRET[\s\S]*DATABASE_URL|DATABASE_URL[\s\S]*AUTH_SECRET/);
    expect(message).toContain('PORT');
    expect(message).toContain('mysql://root:***@h/x');
  });
});
