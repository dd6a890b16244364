import {
  createLogger,
  type EmbeddedPostgres,
  loadConfig,
  type ServiceApp,
  TokenAuthority,
} from '@sysdesign/platform';
import { tempDirSync, waitFor } from '@sysdesign/testkit';
import { configSchema } from '../src/config.js';
import { WORK_SCOPE, WRITE_SCOPE } from '../src/routes/context.js';
import { type BuildOptions, buildService } from '../src/service.js';

export const TEST_AUTH_SECRET = 'test-secret-of-at-least-thirty-two-bytes!';
const authority = new TokenAuthority({ secret: TEST_AUTH_SECRET });

/** The job queue's own schema beside the service's, so tests on a shared Postgres never meet. */
function schemaOf(serviceSchema: string): string {
  return `${serviceSchema}_jq`.slice(0, 63);
}

/** Builds the service the way main.ts does, from an environment, in the given schema. */
export async function buildFromEnv(
  env: Record<string, string>,
  options: { embedded?: EmbeddedPostgres; schema: string } & Partial<BuildOptions>,
): Promise<ServiceApp> {
  const config = loadConfig(configSchema, {
    LOG_LEVEL: 'silent',
    PGLITE_DIR: 'memory',
    AUTH_SECRET: TEST_AUTH_SECRET,
    DATA_DIR: tempDirSync('job-scheduler-'),
    QUEUES: 'default,emails',
    JOB_QUEUE_SCHEMA: schemaOf(options.schema),
    ...env,
  });
  const { embedded, schema, ...seams } = options;
  return buildService(
    config,
    { logger: createLogger('silent'), sqlSchema: schema, ...(embedded ? { embedded } : {}) },
    seams,
  );
}

export async function bearer(scopes: string[] = [WRITE_SCOPE, WORK_SCOPE], user = 'tester') {
  return { authorization: `Bearer ${await authority.issue(user, { ttlSeconds: 600, scopes })}` };
}

export interface JobBody {
  id: string;
  state: string;
  attempts: number;
  fence: string;
  output: unknown;
  error: { message: string; code?: string } | null;
}

export async function submit(
  app: ServiceApp,
  body: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<JobBody> {
  const response = await app.inject({ method: 'POST', url: '/v1/jobs', payload: body, headers });
  if (response.statusCode !== 201 && response.statusCode !== 200)
    throw new Error(`POST /v1/jobs: ${response.statusCode} ${response.body}`);
  return response.json<{ job: JobBody }>().job;
}

export async function getJob(
  app: ServiceApp,
  id: string,
): Promise<{ job: JobBody; history: { to: string; worker: string | null }[] }> {
  const response = await app.inject({ url: `/v1/jobs/${id}` });
  if (response.statusCode !== 200)
    throw new Error(`GET /v1/jobs/${id}: ${response.statusCode} ${response.body}`);
  return response.json();
}

export async function waitForState(
  app: ServiceApp,
  id: string,
  state: string,
  timeoutMs = 10_000,
): Promise<JobBody> {
  let last: JobBody | undefined;
  await waitFor(
    async () => {
      last = (await getJob(app, id)).job;
      return last.state === state;
    },
    `job ${id} ${state}`,
    { timeoutMs, intervalMs: 20 },
  );
  return last as JobBody;
}
