import { createLogger, loadConfig, type ServiceApp, TokenAuthority } from '@sysdesign/platform';
import { dropSchema, freshSchemaName, tempDir } from '@sysdesign/testkit';
import { configSchema } from '../src/config.js';
import { sha256Hex } from '../src/domain/blocks.js';
import { ADMIN_SCOPE } from '../src/routes/admin.js';
import { buildService } from '../src/service.js';

export const TEST_AUTH_SECRET = 'test-secret-of-at-least-thirty-two-bytes!';
const authority = new TokenAuthority({ secret: TEST_AUTH_SECRET });

export async function bearer(user: string, scopes: string[] = []): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await authority.issue(user, { ttlSeconds: 3600, scopes })}` };
}

export const adminBearer = () => bearer('operator', [ADMIN_SCOPE]);

/** A clock the test moves: grace periods and retention without sleeping. */
export class TestClock {
  offsetMs = 0;
  readonly nowMs = () => Date.now() + this.offsetMs;
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface TestService {
  schema: string;
  app: ServiceApp;
  blobDir: string;
  clock: TestClock;
  close(): Promise<void>;
}

/** The service on the shared Postgres in a fresh schema, blocks in a fresh temp dir. */
export async function openService(
  databaseUrl: string,
  env: Record<string, string> = {},
  reuse?: { schema: string; blobDir: string },
): Promise<TestService> {
  const schema = reuse?.schema ?? freshSchemaName('filesync');
  const blobDir = reuse?.blobDir ?? (await tempDir('file-sync-blobs'));
  const clock = new TestClock();
  const config = loadConfig(configSchema, {
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    BLOB_DIR: blobDir,
    DATA_DIR: blobDir,
    AUTH_SECRET: TEST_AUTH_SECRET,
    GC_INTERVAL_SECONDS: '0',
    // Small blocks so a few hundred KiB make many of them.
    CHUNK_AVG_BYTES: '8192',
    ...env,
  });
  const app = await buildService(
    config,
    { logger: createLogger('silent'), sqlSchema: schema },
    { nowMs: clock.nowMs },
  );
  return {
    app,
    blobDir,
    schema,
    clock,
    async close() {
      await app.close();
      await dropSchema(databaseUrl, schema);
    },
  };
}

/** Deterministic pseudo-random bytes (incompressible), from a seed. */
export function randomBytesOf(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

export function blockOf(bytes: Uint8Array): { hash: string; size: number } {
  return { hash: sha256Hex(bytes), size: bytes.byteLength };
}

/** What `app.inject` answers. */
export type Injected = Awaited<ReturnType<ServiceApp['inject']>>;

export async function putContent(
  app: ServiceApp,
  headers: Record<string, string>,
  path: string,
  body: Buffer,
  parent?: string,
): Promise<Injected> {
  const query = new URLSearchParams({ path, ...(parent ? { parent } : {}) });
  return app.inject({
    method: 'PUT',
    url: `/v1/content?${query}`,
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    payload: body,
  });
}

export async function getContent(
  app: ServiceApp,
  headers: Record<string, string>,
  path: string,
  extra: Record<string, string> = {},
): Promise<Injected> {
  return app.inject({
    method: 'GET',
    url: `/v1/content?${new URLSearchParams({ path })}`,
    headers: { ...headers, ...extra },
  });
}
