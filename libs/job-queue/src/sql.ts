import { createHash } from 'node:crypto';

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

/** A named statement, which node-postgres parses once per connection and then only binds. */
export interface PgQueryConfig {
  name: string;
  text: string;
  values?: unknown[];
}

/** The part of node-postgres's `Pool` used here. */
export interface PgPoolLike {
  query(textOrConfig: string | PgQueryConfig, params?: unknown[]): Promise<{ rows: unknown[] }>;
  connect(): Promise<PgClientLike>;
}

export interface PgClientLike {
  query(textOrConfig: string | PgQueryConfig, params?: unknown[]): Promise<{ rows: unknown[] }>;
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

/** Statement texts given a name; past this many, further texts run unnamed (a bound on every connection's cache). */
const NAMED_STATEMENTS_MAX = 500;

/**
 * Names for the library's statements: the same text always gets the same name, so each pooled
 * connection parses and analyses a statement once and later runs only bind and execute (the
 * parse, analysis and planning were a fifth of the server's CPU per job). Texts are the library's
 * own templates with the schema filled in, so there are a few dozen per schema.
 */
function statementNamer(): (text: string) => string | undefined {
  const names = new Map<string, string>();
  return (text) => {
    let name = names.get(text);
    if (name === undefined && names.size < NAMED_STATEMENTS_MAX) {
      name = `jobq_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
      names.set(text, name);
    }
    return name;
  };
}

export interface PgPoolSqlOptions {
  /** Run statements as named prepared statements (parsed once per connection). Default true. */
  prepare?: boolean;
}

/** An adapter over a node-postgres pool; LISTEN holds one pooled connection per channel. */
export function pgPoolSql(pool: PgPoolLike, { prepare = true }: PgPoolSqlOptions = {}): JobQueueSql {
  const nameOf = prepare ? statementNamer() : () => undefined;
  const queryable = (client: Pick<PgPoolLike, 'query'>): Queryable => ({
    async query<Row>(text: string, params?: readonly unknown[]) {
      const values = params as unknown[] | undefined;
      const name = values !== undefined && values.length > 0 ? nameOf(text) : undefined;
      const result =
        values !== undefined && name !== undefined
          ? await client.query({ name, text, values })
          : await client.query(text, values);
      return { rows: result.rows as Row[] };
    },
  });
  return {
    ...queryable(pool),
    async tx(work) {
      const client = await pool.connect();
      let broken: Error | undefined;
      // A checked-out client has no 'error' listener of the pool's: when the server goes away in
      // the middle of the transaction, node-postgres emits 'error' on it, which would crash the process.
      const onError = (error: Error) => {
        broken = error;
      };
      client.addListener('error', onError);
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
        client.removeListener('error', onError as (argument: PgNotification & Error) => void);
        client.release(broken);
      }
    },
    listen: (channel, onNotify) => listenWithReconnect(pool, channel, onNotify),
  };
}

/**
 * The payload a listener delivers after it listens again on a new connection: notifications sent
 * while it was cut off are lost, so every queue should look for work.
 */
export const RELISTENED_PAYLOAD = '*|0';

const RELISTEN_DELAY_MS_MIN = 250;
const RELISTEN_DELAY_MS_MAX = 30_000;

/**
 * LISTEN on one pooled connection, listening again on a fresh one (with doubling delays) when
 * the connection breaks: a restarted server or a cut network must not leave workers deaf.
 */
async function listenWithReconnect(
  pool: PgPoolLike,
  channel: string,
  onNotify: (payload: string) => void,
): Promise<() => Promise<void>> {
  let client: PgClientLike | undefined;
  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryDelayMs = RELISTEN_DELAY_MS_MIN;
  const onMessage = (message: PgNotification) => {
    if (message.channel === channel) onNotify(message.payload ?? '');
  };
  const detach = (connection: PgClientLike) => {
    connection.removeListener('notification', onMessage);
    connection.removeListener('error', onError);
  };
  // A checked-out client with no 'error' listener would crash the process when its connection breaks.
  function onError(error: Error): void {
    const broken = client;
    client = undefined;
    if (broken) {
      detach(broken);
      broken.release(error);
    }
    scheduleRetry();
  }
  async function connect(): Promise<void> {
    const connection = await pool.connect();
    connection.on('notification', onMessage);
    connection.addListener('error', onError);
    try {
      await connection.query(`LISTEN ${quoteChannel(channel)}`);
    } catch (error) {
      detach(connection);
      connection.release(error as Error);
      throw error;
    }
    client = connection;
    retryDelayMs = RELISTEN_DELAY_MS_MIN;
  }
  function scheduleRetry(): void {
    if (stopped || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connect().then(
        () => (stopped ? undefined : onNotify(RELISTENED_PAYLOAD)),
        () => {
          retryDelayMs = Math.min(retryDelayMs * 2, RELISTEN_DELAY_MS_MAX);
          scheduleRetry();
        },
      );
    }, retryDelayMs);
    retryTimer.unref();
  }
  await connect();
  return async () => {
    stopped = true;
    if (retryTimer) clearTimeout(retryTimer);
    const connection = client;
    client = undefined;
    if (!connection) return;
    detach(connection);
    try {
      await connection.query(`UNLISTEN ${quoteChannel(channel)}`);
      connection.release();
    } catch (error) {
      connection.release(error as Error);
    }
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
