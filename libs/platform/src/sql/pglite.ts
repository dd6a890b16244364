import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction, types } from '@electric-sql/pglite';
import { assertSchemaName, type QueryResult, type Sql, type SqlQueryable } from './port.js';
import { TransactionScope } from './reentrancy.js';

/**
 * Embedded Postgres: one PGlite instance (one connection) that every service in the process
 * shares, each in its own schema. PGlite boots in seconds, so it is opened once per process.
 *
 * A single connection has a single `search_path`, so every statement runs under one lock that
 * first switches the path to the caller's schema if another service used the connection last.
 * PGlite serialises statements anyway; the lock only keeps the switch and the statement together.
 */
export class EmbeddedPostgres {
  private searchPath: string | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly db: PGlite,
    /** Where the files live, or `memory`. */
    readonly location: string,
  ) {}

  /** Opens (or creates) the database at `dir`; `memory` keeps nothing on disk. */
  static async open(dir: string): Promise<EmbeddedPostgres> {
    // PGlite returns int8 as a number when it fits 2^53 and as a bigint otherwise; node-postgres
    // is configured to return bigint always, and so is this, so code sees one type.
    const options = { parsers: { [types.INT8]: (value: string) => BigInt(value) } };
    if (dir === 'memory') return new EmbeddedPostgres(await PGlite.create(options), dir);
    mkdirSync(dir, { recursive: true });
    return new EmbeddedPostgres(await PGlite.create(dir, options), dir);
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async use(schema: string): Promise<void> {
    if (this.closed) throw new Error('embedded postgres is closed');
    if (this.searchPath === schema) return;
    await this.db.exec(`SET search_path TO ${schema}`);
    this.searchPath = schema;
  }

  /**
   * An `Sql` bound to `schema`, created if missing. `ownsDatabase` makes its `close()` close the
   * whole instance (a standalone service); otherwise closing it leaves the shared instance open.
   */
  async forSchema(schema: string, ownsDatabase = false): Promise<Sql> {
    assertSchemaName(schema);
    await this.exclusive(() => this.db.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`));
    const scope = new TransactionScope();
    const sql: Sql = {
      dialect: 'pglite',
      schema,
      query: <Row>(text: string, params?: readonly unknown[]) => {
        scope.assertOutside(sql);
        return this.exclusive(async () => {
          await this.use(schema);
          return resultOf<Row>(await this.db.query<Row>(text, params as unknown[] | undefined));
        });
      },
      script: (text: string) => {
        scope.assertOutside(sql);
        return this.exclusive(async () => {
          await this.use(schema);
          await this.db.exec(text);
        });
      },
      tx: <T>(work: (tx: SqlQueryable) => Promise<T>) => {
        scope.assertOutside(sql);
        return this.exclusive(async () => {
          await this.use(schema);
          return this.db.transaction((transaction) =>
            scope.run(sql, () => work(transactionQueryable(transaction))),
          );
        });
      },
      ping: async () => {
        await sql.query('SELECT 1');
      },
      close: async () => {
        if (ownsDatabase) await this.close();
      },
    };
    return sql;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.exclusive(() => this.db.close());
  }
}

function resultOf<Row>(result: { rows: Row[]; affectedRows?: number }): QueryResult<Row> {
  return {
    rows: result.rows,
    rowCount: result.rows.length > 0 ? result.rows.length : (result.affectedRows ?? 0),
  };
}

function transactionQueryable(transaction: Transaction): SqlQueryable {
  return {
    async query<Row>(text: string, params?: readonly unknown[]) {
      return resultOf<Row>(await transaction.query<Row>(text, params as unknown[] | undefined));
    },
    async script(text: string) {
      await transaction.exec(text);
    },
  };
}
