import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * CI reuses one Postgres and one Redis for every test, so each test works in its own schema and
 * under its own key prefix, and removes them afterwards.
 */

function uniqueSuffix(): string {
  return `${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** A schema name no other test uses: `t_<label>_<time>_<random>`. */
export function freshSchemaName(label = 'test'): string {
  const safe = label
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 20);
  return `t_${safe}_${uniqueSuffix()}`;
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  if (!/^t_[a-z0-9_]+$/.test(schema)) throw new Error(`refusing to drop non-test schema ${schema}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** A Redis key prefix no other test uses, with a hash tag so a test's keys may share a slot. */
export function freshRedisPrefix(label = 'test'): string {
  return `test:${label}:${uniqueSuffix()}:`;
}

/** Deletes every key under `prefix`. */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  if (!prefix.startsWith('test:')) throw new Error(`refusing to delete non-test prefix ${prefix}`);
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
