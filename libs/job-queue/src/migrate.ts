import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { JobQueueError, JobQueueErrorCode } from './errors.js';
import type { JobQueueSql } from './sql.js';

/**
 * The library ships its migrations (`migrations/NNN_name.sql`, beside `src/` and `dist/`) and
 * applies them itself, so a service needs no copy. They run in one transaction under an advisory
 * lock keyed on the schema (two replicas starting at once apply them once), and each applied file
 * is recorded with its checksum in `<schema>.migrations`: an edited file fails the start.
 */

export const DEFAULT_SCHEMA = 'job_queue';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const MIGRATION_FILE = /^\d{3}_[a-z0-9_]+\.sql$/;
const migrationsDir = fileURLToPath(new URL('../migrations/', import.meta.url));

export function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new JobQueueError(
      JobQueueErrorCode.INVALID_OPTION,
      `schema name ${JSON.stringify(schema)} must match ${SCHEMA_NAME}`,
    );
  }
}

interface Migration {
  version: string;
  statements: string[];
  checksum: string;
}

function readMigrations(schema: string): Migration[] {
  const files = readdirSync(migrationsDir)
    .filter((name) => MIGRATION_FILE.test(name))
    .sort();
  return files.map((name) => {
    const text = readFileSync(`${migrationsDir}${name}`, 'utf8');
    const statements = text
      .replaceAll('{{schema}}', schema)
      .split(/;\s*$/m)
      .map((statement) =>
        statement
          .split('\n')
          .filter((line) => !line.trimStart().startsWith('--'))
          .join('\n')
          .trim(),
      )
      .filter((statement) => statement.length > 0);
    return {
      version: name.replace(/\.sql$/, ''),
      statements,
      checksum: createHash('sha256').update(text).digest('hex'),
    };
  });
}

/** Applies the pending migrations into `schema`; resolves with the versions it applied. */
export async function migrate(sql: JobQueueSql, schema = DEFAULT_SCHEMA): Promise<string[]> {
  assertSchemaName(schema);
  const migrations = readMigrations(schema);
  return sql.tx(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`job_queue.migrate:${schema}`]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await tx.query(`CREATE TABLE IF NOT EXISTS ${schema}.migrations (
      version text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const applied = new Map(
      (
        await tx.query<{ version: string; checksum: string }>(
          `SELECT version, checksum FROM ${schema}.migrations`,
        )
      ).rows.map((row) => [row.version, row.checksum]),
    );
    const appliedNow: string[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new Error(
            `job-queue migration ${migration.version} changed after it was applied in ${schema}`,
          );
        }
        continue;
      }
      for (const statement of migration.statements) await tx.query(statement);
      await tx.query(`INSERT INTO ${schema}.migrations (version, checksum) VALUES ($1, $2)`, [
        migration.version,
        migration.checksum,
      ]);
      appliedNow.push(migration.version);
    }
    return appliedNow;
  });
}
