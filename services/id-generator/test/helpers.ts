import { createLogger, type EmbeddedPostgres, loadConfig, type ServiceApp } from '@sysdesign/platform';
import { configSchema } from '../src/config.js';
import { buildService } from '../src/service.js';

/** Builds the service the way main.ts does, from an environment, in the given schema. */
export async function buildFromEnv(
  env: Record<string, string>,
  options: { embedded?: EmbeddedPostgres; schema: string },
): Promise<ServiceApp> {
  const config = loadConfig(configSchema, { LOG_LEVEL: 'silent', PGLITE_DIR: 'memory', ...env });
  return buildService(config, {
    logger: createLogger('silent'),
    sqlSchema: options.schema,
    ...(options.embedded ? { embedded: options.embedded } : {}),
  });
}

export interface IdsBody {
  strategy: string;
  ids: string[];
}

export async function getIds(app: ServiceApp, query: string): Promise<IdsBody> {
  const response = await app.inject({ url: `/v1/ids?${query}` });
  if (response.statusCode !== 200)
    throw new Error(`GET /v1/ids?${query}: ${response.statusCode} ${response.body}`);
  return response.json<IdsBody>();
}

/** The worker id an instance holds, read from its metrics. */
export async function workerIdOf(app: ServiceApp): Promise<number> {
  const metrics = (await app.inject({ url: '/metrics' })).body;
  const match = /^idgen_worker_id\{[^}]*\} (\d+)$/m.exec(metrics);
  if (!match) throw new Error('no idgen_worker_id in /metrics');
  return Number(match[1]);
}
