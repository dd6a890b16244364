import type { Sql } from '@sysdesign/platform';

/** The registry of push workers, in the service's schema (shared by its replicas). */

export interface PushWorker {
  id: string;
  queue: string;
  url: string;
  concurrency: number;
  owner: string;
  registeredAt: Date;
  lastHeartbeatAt: Date;
}

interface Row {
  id: unknown;
  queue: string;
  url: string;
  concurrency: number;
  owner: string;
  registered_at: Date | string;
  last_heartbeat_at: Date | string;
}

function workerOf(row: Row): PushWorker {
  return {
    id: String(row.id),
    queue: row.queue,
    url: row.url,
    concurrency: row.concurrency,
    owner: row.owner,
    registeredAt: new Date(row.registered_at),
    lastHeartbeatAt: new Date(row.last_heartbeat_at),
  };
}

export class PushWorkerStore {
  constructor(private readonly sql: Sql) {}

  /** Registers (or re-registers, refreshing its heartbeat) a worker for a queue at a URL. */
  async register(
    worker: { queue: string; url: string; concurrency: number; owner: string },
    now: Date,
  ): Promise<PushWorker> {
    const result = await this.sql.query<Row>(
      `INSERT INTO push_workers (queue, url, concurrency, owner, registered_at, last_heartbeat_at)
       VALUES ($1, $2, $3, $4, $5, $5)
       ON CONFLICT (queue, url) DO UPDATE SET concurrency = EXCLUDED.concurrency, owner = EXCLUDED.owner,
         last_heartbeat_at = EXCLUDED.last_heartbeat_at
       RETURNING *`,
      [worker.queue, worker.url, worker.concurrency, worker.owner, now],
    );
    return workerOf(result.rows[0] as Row);
  }

  async heartbeat(id: string, now: Date): Promise<PushWorker | undefined> {
    const result = await this.sql.query<Row>(
      'UPDATE push_workers SET last_heartbeat_at = $2 WHERE id = $1 RETURNING *',
      [id, now],
    );
    const row = result.rows[0];
    return row ? workerOf(row) : undefined;
  }

  async remove(id: string): Promise<boolean> {
    const result = await this.sql.query('DELETE FROM push_workers WHERE id = $1 RETURNING id', [id]);
    return result.rows.length > 0;
  }

  async count(): Promise<number> {
    const result = await this.sql.query<{ n: unknown }>('SELECT count(*) AS n FROM push_workers');
    return Number(result.rows[0]?.n ?? 0);
  }

  /** Every registered worker, oldest first (bounded by the registration limit). */
  async list(limit: number): Promise<PushWorker[]> {
    const result = await this.sql.query<Row>('SELECT * FROM push_workers ORDER BY id LIMIT $1', [limit]);
    return result.rows.map(workerOf);
  }
}
