import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, EmbeddedPostgres, loadConfig, TokenAuthority } from '@sysdesign/platform';
import { tempDir } from '@sysdesign/testkit';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../src/config.js';
import { ADMIN_SCOPE } from '../src/routes/admin.js';
import { buildService } from '../src/service.js';
import { getContent, putContent, randomBytesOf } from './helpers.js';

describe('the embedded mode', () => {
  it('keeps files across a restart (PGlite and blocks on disk) and writes a dev token with the operator scope', async () => {
    // What it proves: `pnpm start` with nothing configured keeps its data under ./data, so an
    // upgrade or a restart loses nothing; the logged dev token works and may run the collector.
    const dir = await tempDir('file-sync-embedded');
    const env = {
      LOG_LEVEL: 'silent',
      DATA_DIR: join(dir, 'service'),
      BLOB_DIR: join(dir, 'blobs'),
      GC_INTERVAL_SECONDS: '0',
    };
    const content = randomBytesOf(100_000, 77);
    const open = async () => {
      const embedded = await EmbeddedPostgres.open(join(dir, 'pglite'));
      const app = await buildService(loadConfig(configSchema, env), {
        logger: createLogger('silent'),
        embedded,
      });
      return {
        app,
        close: async () => {
          await app.close();
          await embedded.close();
        },
      };
    };
    const first = await open();
    const token = readFileSync(join(dir, 'service', 'dev-token'), 'utf8').trim();
    const secret = readFileSync(join(dir, 'service', 'auth-secret'), 'utf8').trim();
    expect((await new TokenAuthority({ secret }).verify(token)).scopes).toContain(ADMIN_SCOPE);
    const auth = { authorization: `Bearer ${token}` };
    try {
      expect((await putContent(first.app, auth, 'kept.bin', content)).statusCode).toBe(200);
    } finally {
      await first.close();
    }
    const second = await open();
    try {
      expect((await getContent(second.app, auth, 'kept.bin')).rawPayload.equals(content)).toBe(true);
      expect(
        (await second.app.inject({ method: 'POST', url: '/v1/admin/gc', headers: auth })).statusCode,
      ).toBe(200);
    } finally {
      await second.close();
    }
  }, 60_000);
});
