import { EmbeddedPostgres } from './pglite.js';
import type { Sql } from './port.js';
import { createPostgresSql } from './postgres.js';

export * from './migrate.js';
export { EmbeddedPostgres } from './pglite.js';
export * from './port.js';
export { createPostgresSql, type PostgresSqlOptions } from './postgres.js';

export interface SqlSelection {
  schema: string;
  /** Set: real Postgres. Absent: embedded PGlite. */
  databaseUrl?: string | undefined;
  /** The process's shared embedded database (start-all, tests); else one is opened at `pgliteDir`. */
  embedded?: EmbeddedPostgres;
  pgliteDir?: string;
  applicationName?: string;
  onIdleError?: (error: Error) => void;
}

/** The configured Sql backend: Postgres when `DATABASE_URL` is set, PGlite otherwise. */
export async function openSql(selection: SqlSelection): Promise<Sql> {
  if (selection.databaseUrl) {
    return createPostgresSql({
      url: selection.databaseUrl,
      schema: selection.schema,
      ...(selection.applicationName ? { applicationName: selection.applicationName } : {}),
      ...(selection.onIdleError ? { onIdleError: selection.onIdleError } : {}),
    });
  }
  if (selection.embedded) return selection.embedded.forSchema(selection.schema);
  const embedded = await EmbeddedPostgres.open(selection.pgliteDir ?? './data/pglite');
  return embedded.forSchema(selection.schema, true);
}
