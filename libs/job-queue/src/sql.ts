/**
 * The SQL port: the few things the queue needs from a Postgres connection. The platform's `Sql`
 * (query + tx) already has the first two; `listen` is optional, and without it workers still
 * wake on enqueues made through the same `JobQueue` object, on a timer set to the next due job,
 * and on the slow safety poll. Two adapters ship here for users without the platform: node-postgres
 * (`pg.Pool`) and PGlite, both typed structurally so neither is a dependency.
 */

export interface QueryResultLike<Row> {
  rows: Row[];
}

export interface Queryable {
  query<Row = Record<string, unknown>>(
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResultLike<Row>>;
}

export interface JobQueueSql extends Queryable {
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  tx<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Subscribes to a NOTIFY channel; resolves once listening, with a function that stops.
   * Absent: the queue wakes its workers in-process and by timers only.
   */
  listen?(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
}

export interface PgNotification {
  channel: string;
  payload?: string | undefined;
}

/** The part of node-postgres's `Pool` used here. */
export interface PgPoolLike {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  connect(): Promise<PgClientLike>;
}

export interface PgClientLike {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
  release(error?: Error | boolean): void;
  on(event: 'notification', listener: (message: PgNotification) => void): unknown;
  /** EventEmitter's: used for the 'error' listener, which node-postgres's typings overload awkwardly. */
  addListener(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(
    event: 'notification' | 'error',
    listener: (argument: PgNotification & Error) => void,
  ): unknown;
}

function quoteChannel(channel: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`bad channel name ${channel}`);
  return `"${channel}"`;
}

/** An adapter over a node-postgres pool; LISTEN holds one pooled connection per channel. */
export function pgPoolSql(pool: PgPoolLike): JobQueueSql {
  const queryable = (client: Pick<PgPoolLike, 'query'>): Queryable => ({
    async query<Row>(text: string, params?: readonly unknown[]) {
      const result = await client.query(text, params as unknown[] | undefined);
      return { rows: result.rows as Row[] };
    },
  });
  return {
    ...queryable(pool),
    async tx(work) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(queryable(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
    async listen(channel, onNotify) {
      const client = await pool.connect();
      const onMessage = (message: PgNotification) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      };
      // A checked-out client with no 'error' listener would crash the process when its connection
      // breaks; a broken listener leaves the worker on its timers and its safety poll.
      let broken: Error | undefined;
      const onError = (error: Error) => {
        broken = error;
      };
      client.on('notification', onMessage);
      client.addListener('error', onError);
      try {
        await client.query(`LISTEN ${quoteChannel(channel)}`);
      } catch (error) {
        client.removeListener('notification', onMessage);
        client.removeListener('error', onError);
        client.release(error as Error);
        throw error;
      }
      return async () => {
        client.removeListener('notification', onMessage);
        try {
          if (!broken) await client.query(`UNLISTEN ${quoteChannel(channel)}`);
          client.release(broken);
        } catch (error) {
          client.release(error as Error);
        } finally {
          client.removeListener('error', onError);
        }
      };
    },
  };
}

/** The part of PGlite used here. */
export interface PGliteLike {
  query<Row>(text: string, params?: unknown[]): Promise<{ rows: Row[] }>;
  transaction<T>(
    work: (tx: { query<Row>(text: string, params?: unknown[]): Promise<{ rows: Row[] }> }) => Promise<T>,
  ): Promise<T>;
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
}

/** An adapter over a PGlite instance (one connection: transactions run one at a time). */
export function pgliteSql(db: PGliteLike): JobQueueSql {
  return {
    async query<Row>(text: string, params?: readonly unknown[]) {
      return db.query<Row>(text, params as unknown[] | undefined);
    },
    tx(work) {
      return db.transaction((transaction) =>
        work({
          query: <Row>(text: string, params?: readonly unknown[]) =>
            transaction.query<Row>(text, params as unknown[] | undefined),
        }),
      );
    },
    async listen(channel, onNotify) {
      const stop = await db.listen(channel, onNotify);
      return () => stop();
    },
  };
}
