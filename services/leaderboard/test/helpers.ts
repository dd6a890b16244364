import {
  createLogger,
  type EmbeddedPostgres,
  loadConfig,
  type ServiceApp,
  TokenAuthority,
} from '@sysdesign/platform';
import { configSchema } from '../src/config.js';
import { ADMIN_SCOPE, WRITE_SCOPE } from '../src/routes/schemas.js';
import { buildService } from '../src/service.js';

export const TEST_AUTH_SECRET = 'test-secret-of-at-least-thirty-two-bytes!';

/** Builds the service the way main.ts does, from an environment, in the given schema. */
export async function buildFromEnv(
  env: Record<string, string>,
  options: { embedded?: EmbeddedPostgres; schema: string; nowMs?: () => number },
): Promise<ServiceApp> {
  const config = loadConfig(configSchema, {
    LOG_LEVEL: process.env.LB_TEST_LOG === '1' ? 'error' : 'silent',
    PGLITE_DIR: 'memory',
    AUTH_SECRET: TEST_AUTH_SECRET,
    LIVE_INTERVAL_MS: '20',
    ...env,
  });
  return buildService(
    config,
    {
      logger: createLogger(process.env.LB_TEST_LOG === '1' ? 'error' : 'silent'),
      sqlSchema: options.schema,
      ...(options.embedded ? { embedded: options.embedded } : {}),
    },
    options.nowMs ? { nowMs: options.nowMs } : {},
  );
}

const authority = new TokenAuthority({ secret: TEST_AUTH_SECRET });

/** Bearer headers of a game server (write) and an operator (admin and write). */
export async function tokens(): Promise<{ writer: Record<string, string>; admin: Record<string, string> }> {
  const writer = await authority.issue('game-server', { ttlSeconds: 3_600, scopes: [WRITE_SCOPE] });
  const admin = await authority.issue('operator', { ttlSeconds: 3_600, scopes: [ADMIN_SCOPE, WRITE_SCOPE] });
  return { writer: { authorization: `Bearer ${writer}` }, admin: { authorization: `Bearer ${admin}` } };
}

export interface Client {
  createBoard(body: Record<string, unknown>): Promise<Record<string, unknown>>;
  submit(
    board: string,
    player: string,
    score: number,
    headers?: Record<string, string>,
  ): Promise<{ score: number }>;
  top(board: string, limit?: number): Promise<{ player: string; score: number; rank: number }[]>;
}

export async function clientOf(app: ServiceApp): Promise<Client> {
  const { writer, admin } = await tokens();
  return {
    async createBoard(body) {
      // A narrow range leaves room for a 1-second tie-break over centuries (the defaults trade it for range).
      const payload = { scoreMax: 1_000_000, timeResolutionMs: 1_000, ...body };
      const response = await app.inject({ method: 'POST', url: '/v1/boards', payload, headers: admin });
      if (response.statusCode !== 201)
        throw new Error(`create board: ${response.statusCode} ${response.body}`);
      return response.json();
    },
    async submit(board, player, score, headers = {}) {
      const response = await app.inject({
        method: 'POST',
        url: `/v1/boards/${board}/scores`,
        payload: { player, score },
        headers: { ...writer, ...headers },
      });
      if (response.statusCode !== 200) throw new Error(`submit: ${response.statusCode} ${response.body}`);
      return response.json();
    },
    async top(board, limit = 100) {
      const response = await app.inject({ url: `/v1/boards/${board}/top?limit=${limit}` });
      if (response.statusCode !== 200) throw new Error(`top: ${response.statusCode} ${response.body}`);
      return response.json().entries;
    },
  };
}
