import pg from 'pg';
import { BackendUnavailableError } from '../errors.js';
import {
  assertSchemaName,
  type QueryResult,
  type Sql,
  type SqlQueryable,
  SqlState,
  sqlStateOf,
} from './port.js';
import { TransactionScope } from './reentrancy.js';

export interface PostgresSqlOptions {
  url: string;
  schema: string;
  maxConnections?: number;
  /** Statements running longer are cancelled by the server. */
  statementTimeoutMs?: number;
  connectionTimeoutMs?: number;
  applicationName?: string;
  /** Called with errors of idle pooled connections (a restarted server, a cut network). */
  onIdleError?: (error: Error) => void;
}

const INT8_OID = 20;
const INT8_ARRAY_OID = 1016;

/** int8 as bigint, as PGlite returns it, instead of node-postgres's default string. */
const typeParsers = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID) return (value: string) => BigInt(value);
    if (oid === INT8_ARRAY_OID) {
      const parseArray = pg.types.getTypeParser(oid as never, 'text') as (value: string) => string[];
      return (value: string) => parseArray(value).map((item) => (item === null ? null : BigInt(item)));
    }
    return pg.types.getTypeParser(oid as never, format ?? 'text');
  },
} as pg.CustomTypesConfig;

async function ensureSchema(options: PostgresSqlOptions): Promise<void> {
  const client = new pg.Client({
    connectionString: options.url,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
  });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
  } catch (error) {
    // Two processes creating the same schema at once: one loses the race, which is fine.
    const state = sqlStateOf(error);
    if (state !== SqlState.uniqueViolation && state !== SqlState.duplicateSchema) throw error;
  } finally {
    await client.end();
  }
}

const UNAVAILABLE_STATES = new Set([
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
]);
const CONNECTION_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/;

/**
 * Connection failures (refused, reset, timed out, the server shutting down or full) become
 * BackendUnavailableError; errors in the statement itself stay as they are.
 */
function unavailableOrSame(error: unknown): unknown {
  const state = sqlStateOf(error);
  const code = (error as { code?: unknown })?.code;
  const message = (error as Error)?.message ?? '';
  if (
    (state !== undefined && UNAVAILABLE_STATES.has(state)) ||
    (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) ||
    CONNECTION_MESSAGES.test(message)
  ) {
    return new BackendUnavailableError('postgres', { cause: error });
  }
  return error;
}

function queryableOf(client: pg.ClientBase | pg.Pool): SqlQueryable {
  return {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
      try {
        const result = await client.query(text, params as unknown[] | undefined);
        return {
          rows: result.rows as Row[],
          rowCount: result.rows.length > 0 ? result.rows.length : (result.rowCount ?? 0),
        };
      } catch (error) {
        throw unavailableOrSame(error);
      }
    },
    async script(text: string): Promise<void> {
      // Without parameters node-postgres uses the simple protocol, which runs several statements.
      try {
        await client.query(text);
      } catch (error) {
        throw unavailableOrSame(error);
      }
    },
  };
}

export async function createPostgresSql(options: PostgresSqlOptions): Promise<Sql> {
  assertSchemaName(options.schema);
  await ensureSchema(options);
  const statementTimeout = options.statementTimeoutMs ?? 30_000;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? options.schema,
    options: `-c search_path=${options.schema} -c statement_timeout=${statementTimeout}`,
    types: typeParsers,
  });
  // Without a listener, an idle client's error (server restart) would crash the process.
  pool.on('error', (error) => options.onIdleError?.(error));

  const scope = new TransactionScope();
  const direct = queryableOf(pool);
  const sql: Sql = {
    dialect: 'postgres',
    schema: options.schema,
    query(text, params) {
      scope.assertOutside(sql);
      return direct.query(text, params);
    },
    script(text) {
      scope.assertOutside(sql);
      return direct.script(text);
    },
    async tx(work) {
      scope.assertOutside(sql);
      const client = await pool.connect().catch((error: unknown) => {
        throw unavailableOrSame(error);
      });
      let broken: Error | undefined;
      // A checked-out client has no 'error' listener of the pool's: when the server goes away in
      // the middle of the transaction, node-postgres emits 'error' on it, which would crash the process.
      const onError = (error: Error) => {
        broken = error;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await scope.run(sql, () => work(queryableOf(client)));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          // The connection is unusable; release it destroyed, not back into the pool.
          broken = rollbackError as Error;
        }
        throw unavailableOrSame(error);
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      await pool.end();
    },
  };
  return sql;
}
