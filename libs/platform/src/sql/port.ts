/**
 * The relational backend every service that keeps records uses. Two adapters run the same SQL:
 * node-postgres against a real server (`DATABASE_URL`) and PGlite (Postgres compiled to WASM)
 * in the embedded mode. Each service works inside its own schema.
 *
 * Type parity between adapters: int8 comes back as `bigint`, numeric as `string`, timestamptz as
 * `Date`, json/jsonb parsed.
 */

export interface QueryResult<Row> {
  rows: Row[];
  /** Rows returned, or rows affected for a statement that returns none. */
  rowCount: number;
}

export interface SqlQueryable {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
  /** Runs a multi-statement script without parameters (migrations). */
  script(text: string): Promise<void>;
}

export interface Sql extends SqlQueryable {
  readonly dialect: 'postgres' | 'pglite';
  /** The schema every unqualified name resolves to. */
  readonly schema: string;
  /**
   * Runs `work` in one transaction: committed when it resolves, rolled back when it throws.
   * Inside, use only the handle it is given.
   */
  tx<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Schema names are interpolated into SQL, so only plain lower-case identifiers are allowed. */
export function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`schema name ${JSON.stringify(schema)} must match ${SCHEMA_NAME}`);
  }
}

/** The schema a service uses: its name with dashes as underscores (`id-generator` -> `id_generator`). */
export function schemaForService(service: string): string {
  const schema = service.toLowerCase().replace(/-/g, '_');
  assertSchemaName(schema);
  return schema;
}

/** SQLSTATEs callers commonly branch on. */
export const SqlState = {
  uniqueViolation: '23505',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  duplicateSchema: '42P06',
} as const;

/** The SQLSTATE of a database error from either adapter, if it has one. */
export function sqlStateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
