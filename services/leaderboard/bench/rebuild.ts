import {
  createLogger,
  createPostgresSql,
  EmbeddedPostgres,
  loadConfig,
  type ServiceApp,
  type Sql,
  TokenAuthority,
} from '@sysdesign/platform';
import { configSchema } from '../src/config.js';
import { ADMIN_SCOPE } from '../src/routes/schemas.js';
import { buildService } from '../src/service.js';

/**
 * Rebuild time from the log: a board whose `score_events` hold `events` events of `players`
 * players (each player's last one wins), rebuilt through `POST /v1/boards/{board}/rebuild` (the
 * service's own path: one transaction under the board's exclusive lock, `DISTINCT ON (player)`
 * chunks of REBUILD_CHUNK, each chunk one `putMany` on the index). The events are written straight
 * into the log with one `generate_series` insert per chunk, so the figure is the replay alone.
 */

const AUTH_SECRET = 'bench-secret-of-at-least-thirty-two-bytes';
const INSERT_CHUNK = 250_000;

export interface RebuildBackend {
  name: string;
  /** Postgres URL; absent: PGlite in memory. */
  databaseUrl?: string;
  /** Redis URL for the index; absent: the twin. */
  redisUrl?: string;
}

export interface RebuildRow {
  backend: string;
  events: number;
  players: number;
  /** Time to write the events (not part of the rebuild). */
  loadSeconds: number;
  rebuildMs: number;
  rebuiltPlayers: number;
}

export async function measureRebuild(backend: RebuildBackend, events: number): Promise<RebuildRow> {
  const players = Math.max(1, Math.floor(events / 4));
  const schema = `lb_bench_${process.pid}_${Date.now() % 1_000_000}`;
  const embedded = backend.databaseUrl ? undefined : await EmbeddedPostgres.open('memory');
  const sql: Sql = backend.databaseUrl
    ? await createPostgresSql({ url: backend.databaseUrl, schema })
    : await embedded!.forSchema(schema);
  const config = loadConfig(configSchema, {
    PGLITE_DIR: 'memory',
    LOG_LEVEL: 'warn',
    AUTH_SECRET,
    RECOVER_ON_START: 'false',
    REDIS_KEY_PREFIX: `${schema}:`,
    ...(backend.databaseUrl ? { DATABASE_URL: backend.databaseUrl } : {}),
    ...(backend.redisUrl ? { REDIS_URL: backend.redisUrl } : {}),
  });
  let app: ServiceApp | undefined;
  try {
    app = await buildService(config, {
      logger: createLogger('warn'),
      sqlSchema: schema,
      ...(embedded ? { embedded } : {}),
    });
    const token = await new TokenAuthority({ secret: AUTH_SECRET }).issue('bench', {
      ttlSeconds: 3_600,
      scopes: [ADMIN_SCOPE],
    });
    const headers = { authorization: `Bearer ${token}` };
    const created = await app.inject({
      method: 'POST',
      url: '/v1/boards',
      payload: { id: 'rebuilt', ranking: 'competition' },
      headers,
    });
    if (created.statusCode !== 201) throw new Error(`create board: ${created.statusCode} ${created.body}`);
    const loadStarted = performance.now();
    await writeEvents(sql, events, players);
    const loadSeconds = (performance.now() - loadStarted) / 1_000;
    const started = performance.now();
    const rebuilt = await app.inject({ method: 'POST', url: '/v1/boards/rebuilt/rebuild', headers });
    const rebuildMs = performance.now() - started;
    if (rebuilt.statusCode !== 200) throw new Error(`rebuild: ${rebuilt.statusCode} ${rebuilt.body}`);
    const rebuiltPlayers = (rebuilt.json() as { players: number }).players;
    return { backend: backend.name, events, players, loadSeconds, rebuildMs, rebuiltPlayers };
  } finally {
    // The schema holds everything of this run but the index, whose Redis (if any) is the caller's own.
    await app?.close();
    await sql.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await sql.close();
    await embedded?.close();
  }
}

/** `events` events over `players` players, written in chunks: player i's events are i, i + players, ... */
async function writeEvents(sql: Sql, events: number, players: number): Promise<void> {
  const { rows } = await sql.query<{ period_start: bigint }>(
    "SELECT period_start FROM boards WHERE id = 'rebuilt'",
  );
  const periodStart = rows[0]!.period_start;
  for (let first = 1; first <= events; first += INSERT_CHUNK) {
    const last = Math.min(events, first + INSERT_CHUNK - 1);
    await sql.query(
      `INSERT INTO score_events (board_id, period_start, player, value, score, reached_at, accepted_at)
       SELECT 'rebuilt', $1::bigint, 'player-' || (g % $2::int), g % 1000003, g % 1000003,
              $1::bigint + 1000 + g, $1::bigint + 1000 + g
       FROM generate_series($3::int, $4::int) AS g`,
      [String(periodStart), players, first, last],
    );
  }
  // A log this size has statistics in production (autovacuum analyzes it); without them the
  // planner guesses the replay's chunks and the figure would be the guess's.
  await sql.query('ANALYZE score_events');
}
