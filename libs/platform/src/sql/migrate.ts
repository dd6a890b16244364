import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sql } from './port.js';

/**
 * Migrations are plain `.sql` files named `NNN_description.sql`, applied once each in name order
 * inside one transaction, and recorded with a checksum in `schema_migrations`. An advisory lock
 * keyed on the schema makes concurrent starts (two replicas) apply them exactly once. A file
 * edited after it was applied fails the start: migrations are append-only.
 *
 * A service applies its own folder, and may first apply folders the platform ships for parts it
 * uses (worker leases); each folder has a namespace so their version numbers never collide.
 */

export interface MigrationSource {
  /** Prefix of the recorded versions: `platform.worker-leases/001_create`. Empty for the service. */
  namespace: string;
  dir: string;
}

const MIGRATION_FILE = /^\d{3,}_[a-z0-9_]+\.sql$/;

export interface Migration {
  version: string;
  text: string;
  checksum: string;
}

export function readMigrations(source: MigrationSource | string): Migration[] {
  const { dir, namespace } = typeof source === 'string' ? { dir: source, namespace: '' } : source;
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort();
  return files.map((name) => {
    if (!MIGRATION_FILE.test(name))
      throw new Error(`migration ${name} in ${dir} must be named like 001_create_things.sql`);
    const text = readFileSync(join(dir, name), 'utf8');
    return {
      version: `${namespace ? `${namespace}/` : ''}${name.replace(/\.sql$/, '')}`,
      text,
      checksum: createHash('sha256').update(text).digest('hex'),
    };
  });
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Applies the pending migrations of each source, in order; returns the versions it applied. */
export async function migrate(sql: Sql, ...sources: (MigrationSource | string)[]): Promise<string[]> {
  const migrations = sources.flatMap((source) => readMigrations(source));
  return sql.tx(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext(current_schema()))');
    await tx.script(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const applied = new Map(
      (
        await tx.query<{ version: string; checksum: string }>(
          'SELECT version, checksum FROM schema_migrations',
        )
      ).rows.map((row) => [row.version, row.checksum]),
    );
    const appliedNow: string[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new MigrationError(
            `migration ${migration.version} changed after it was applied; add a new migration instead`,
          );
        }
        continue;
      }
      await tx.script(migration.text);
      await tx.query('INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)', [
        migration.version,
        migration.checksum,
      ]);
      appliedNow.push(migration.version);
    }
    return appliedNow;
  });
}
