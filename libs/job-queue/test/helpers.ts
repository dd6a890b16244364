import { PGlite } from '@electric-sql/pglite';
import { dropSchema, freshSchemaName, postgresBackend } from '@sysdesign/testkit';
import pg from 'pg';
import { JobQueue, type JobQueueOptions, pgliteSql, pgPoolSql } from '../src/index.js';

/**
 * The two backends every contract test runs on: the shared Postgres (each test file in its own
 * fresh schema, dropped afterwards) and an in-memory PGlite (booted once per file: it takes seconds).
 */

export interface TestDatabase {
  name: 'postgres' | 'pglite';
  /** A migrated queue client on a schema no other test uses. */
  open(options?: Omit<JobQueueOptions, 'sql' | 'schema'>): Promise<JobQueue>;
  close(): Promise<void>;
}

const postgres = await postgresBackend();

export function databases(): { name: 'postgres' | 'pglite'; create: () => Promise<TestDatabase> }[] {
  const list: { name: 'postgres' | 'pglite'; create: () => Promise<TestDatabase> }[] = [
    { name: 'pglite', create: openPglite },
  ];
  if (postgres.available) list.unshift({ name: 'postgres', create: () => openPostgres(postgres.value.url) });
  else console.warn(`[job-queue] Postgres contract runs skipped: ${postgres.reason}`);
  return list;
}

async function openPostgres(url: string): Promise<TestDatabase> {
  // Small pool: the shared server allows 100 connections and vitest runs files in parallel.
  const pool = new pg.Pool({ connectionString: url, max: 6 });
  const schemas: string[] = [];
  return {
    name: 'postgres',
    async open(options = {}) {
      const schema = freshSchemaName('jobq');
      schemas.push(schema);
      const queue = new JobQueue({ ...options, sql: pgPoolSql(pool), schema });
      await queue.migrate();
      return queue;
    },
    async close() {
      await pool.end();
      for (const schema of schemas) await dropSchema(url, schema);
    },
  };
}

async function openPglite(): Promise<TestDatabase> {
  const db = await PGlite.create();
  let count = 0;
  return {
    name: 'pglite',
    async open(options = {}) {
      count += 1;
      const queue = new JobQueue({ ...options, sql: pgliteSql(db), schema: `t_jobq_${count}` });
      await queue.migrate();
      return queue;
    },
    close: () => db.close(),
  };
}

/** A clock a test moves by hand. */
export class ManualClock {
  constructor(public ms: number) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}
