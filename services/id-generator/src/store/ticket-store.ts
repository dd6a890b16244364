import type { Sql, SqlQueryable } from '@sysdesign/platform';

/**
 * Database-issued ids: the ticket server (one sequence) and multi-master (k sequences, server i
 * issuing i, i+k, i+2k, ...). Postgres sequences are the auto-increment of the design
 * discussion: atomic, never handing out a value twice, even across concurrent transactions.
 */
export interface TicketStore {
  /** `count` ids from the ticket sequence, ascending. */
  nextTickets(count: number): Promise<bigint[]>;
  /** `count` ids from multi-master server `server` (1..k), ascending. */
  nextFromServer(server: number, count: number): Promise<bigint[]>;
  /** Number of multi-master servers the sequences are laid out for. */
  readonly servers: number;
}

const serverSequence = (server: number) => `multi_master_server_${server}`;

/** The smallest id above `high` that server `server` of `servers` issues. */
export function firstIdAbove(high: bigint, server: number, servers: number): bigint {
  const k = BigInt(servers);
  const start = high + 1n;
  const offset = (((BigInt(server) - start) % k) + k) % k;
  return start + offset;
}

export class PostgresTicketStore implements TicketStore {
  private constructor(
    private readonly sql: Sql,
    readonly servers: number,
  ) {}

  /**
   * Lays the multi-master sequences out for `servers`. When k changed since the last start, the
   * old sequences are replaced by new ones that start above the highest id any of them issued,
   * so no id repeats: the re-sharding cost the design discussion warns about.
   */
  static async open(sql: Sql, servers: number): Promise<PostgresTicketStore> {
    await sql.tx(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtext('multi_master_layout'))");
      const stored = (await tx.query<{ servers: number }>('SELECT servers FROM multi_master_layout')).rows[0]
        ?.servers;
      if (stored === servers) return;
      const high = stored === undefined ? 0n : await highestIssued(tx, stored);
      for (let server = 1; server <= Math.max(servers, stored ?? 0); server += 1) {
        await tx.query(`DROP SEQUENCE IF EXISTS ${serverSequence(server)}`);
      }
      for (let server = 1; server <= servers; server += 1) {
        const start = firstIdAbove(high, server, servers);
        await tx.query(
          `CREATE SEQUENCE ${serverSequence(server)} START WITH ${start} INCREMENT BY ${servers}`,
        );
      }
      await tx.query(
        `INSERT INTO multi_master_layout (singleton, servers) VALUES (true, $1)
         ON CONFLICT (singleton) DO UPDATE SET servers = EXCLUDED.servers, changed_at = now()`,
        [servers],
      );
    });
    return new PostgresTicketStore(sql, servers);
  }

  async nextTickets(count: number): Promise<bigint[]> {
    const { rows } = await this.sql.query<{ id: bigint }>(
      "SELECT nextval('ticket_ids') AS id FROM generate_series(1, $1::int) ORDER BY id",
      [count],
    );
    return rows.map((row) => row.id);
  }

  async nextFromServer(server: number, count: number): Promise<bigint[]> {
    if (!Number.isInteger(server) || server < 1 || server > this.servers)
      throw new RangeError(`no server ${server}`);
    const { rows } = await this.sql.query<{ id: bigint }>(
      `SELECT nextval('${serverSequence(server)}') AS id FROM generate_series(1, $1::int) ORDER BY id`,
      [count],
    );
    return rows.map((row) => row.id);
  }
}

async function highestIssued(tx: SqlQueryable, servers: number): Promise<bigint> {
  let high = 0n;
  for (let server = 1; server <= servers; server += 1) {
    const exists = await tx.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
      serverSequence(server),
    ]);
    if (!exists.rows[0]?.present) continue;
    const { rows } = await tx.query<{ last_value: bigint; is_called: boolean }>(
      `SELECT last_value, is_called FROM ${serverSequence(server)}`,
    );
    const row = rows[0]!;
    if (row.is_called && row.last_value > high) high = row.last_value;
  }
  return high;
}

/** The same semantics in memory, for tests of code that uses a TicketStore. */
export class MemoryTicketStore implements TicketStore {
  private ticket = 0n;
  private readonly lastByServer: bigint[];

  constructor(readonly servers: number) {
    this.lastByServer = Array.from({ length: servers }, (_, index) => BigInt(index + 1) - BigInt(servers));
  }

  async nextTickets(count: number): Promise<bigint[]> {
    return Array.from({ length: count }, () => {
      this.ticket += 1n;
      return this.ticket;
    });
  }

  async nextFromServer(server: number, count: number): Promise<bigint[]> {
    if (!Number.isInteger(server) || server < 1 || server > this.servers)
      throw new RangeError(`no server ${server}`);
    return Array.from({ length: count }, () => {
      this.lastByServer[server - 1]! += BigInt(this.servers);
      return this.lastByServer[server - 1]!;
    });
  }
}
