import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, EmbeddedPostgres, loadConfig, TokenAuthority } from '@sysdesign/platform';
import { freshSchemaName, tempDirSync } from '@sysdesign/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { configSchema } from '../src/config.js';
import { ScoreOutOfRangeError } from '../src/domain/encoding.js';
import { BoardNotFoundError, PlayerRateLimitedError } from '../src/domain/errors.js';
import { mapLeaderboardError } from '../src/errors.js';
import { LiveHub } from '../src/live.js';
import { ADMIN_SCOPE, WRITE_SCOPE } from '../src/routes/schemas.js';
import { buildService } from '../src/service.js';

/**
 * How the leaderboard is wired into the platform: its parts close in reverse on a failed start,
 * the embedded mode writes a dev token that may post and administer, and domain errors reach
 * clients through its mapper.
 */

let embedded: EmbeddedPostgres;
const dir = tempDirSync('leaderboard-wiring-');

beforeAll(async () => {
  embedded = await EmbeddedPostgres.open('memory');
});

afterAll(async () => {
  await embedded.close();
});

const context = () => ({ logger: createLogger('silent'), embedded, sqlSchema: freshSchemaName('lb_wiring') });

describe('configuration', () => {
  it('refuses shard URLs that are not redis URLs, without echoing them, and shards without REDIS_URL', async () => {
    // A URL may carry a password: the message names the variable, never the value.
    let message = '';
    try {
      loadConfig(configSchema, { SHARD_REDIS_URLS: 'redis://ok:6379,http://user:hunter2@x' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/SHARD_REDIS_URLS/);
    expect(message).not.toMatch(/hunter2/);
    const config = loadConfig(configSchema, {
      DATA_DIR: dir,
      AUTH_SECRET: 'wiring-secret-of-at-least-thirty-two-bytes',
      SHARD_REDIS_URLS: 'redis://127.0.0.1:1',
    });
    await expect(buildService(config, context())).rejects.toThrow(/SHARD_REDIS_URLS needs REDIS_URL/);
  });
});

describe('lifecycle', () => {
  it('closes the live hub when the start fails at its last step', async () => {
    // No AUTH_SECRET and a DATA_DIR that is a file: the embedded secret (the last step) fails.
    const notADirectory = join(dir, 'file');
    writeFileSync(notADirectory, '');
    const close = vi.spyOn(LiveHub.prototype, 'close');
    try {
      const config = loadConfig(configSchema, {
        LOG_LEVEL: 'silent',
        PGLITE_DIR: 'memory',
        DATA_DIR: notADirectory,
      });
      await expect(buildService(config, context())).rejects.toThrow(/ENOTDIR|not a directory/);
      expect(close).toHaveBeenCalledTimes(1);
    } finally {
      close.mockRestore();
    }
  });

  it('writes a dev token that may post scores and administer boards in the embedded mode', async () => {
    const dataDir = tempDirSync('leaderboard-embedded-');
    const config = loadConfig(configSchema, { LOG_LEVEL: 'silent', PGLITE_DIR: 'memory', DATA_DIR: dataDir });
    const app = await buildService(config, context());
    try {
      const token = readFileSync(join(dataDir, 'dev-token'), 'utf8').trim();
      const secret = readFileSync(join(dataDir, 'auth-secret'), 'utf8').trim();
      const verified = await new TokenAuthority({ secret }).verify(token);
      expect(verified.scopes).toEqual(expect.arrayContaining([WRITE_SCOPE, ADMIN_SCOPE]));
      const created = await app.inject({
        method: 'POST',
        url: '/v1/boards',
        payload: { id: 'dev' },
        headers: { authorization: `Bearer ${token}` },
      });
      expect(created.statusCode).toBe(201);
    } finally {
      await app.close();
    }
  });
});

describe('error mapping', () => {
  it('maps domain errors to stable problem codes, with their details and headers', () => {
    expect(mapLeaderboardError(new BoardNotFoundError('x'))).toMatchObject({
      code: 'LEADERBOARD_ERR_BOARD_NOT_FOUND',
      status: 404,
    });
    expect(mapLeaderboardError(new ScoreOutOfRangeError(5, 0, 4))).toMatchObject({
      code: 'LEADERBOARD_ERR_SCORE_OUT_OF_RANGE',
      status: 422,
    });
    const limited = mapLeaderboardError(new PlayerRateLimitedError('p', 2_500));
    expect(limited).toMatchObject({ code: 'LEADERBOARD_ERR_PLAYER_RATE_LIMITED', status: 429 });
    expect(limited?.headers).toEqual({ 'retry-after': '3' });
    expect(mapLeaderboardError(new Error('a bug'))).toBeUndefined();
  });
});
