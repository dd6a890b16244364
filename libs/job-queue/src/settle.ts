import type { Queryable } from './sql.js';

/**
 * What a job's end means for the jobs that depend on it, run in the transaction that ended it.
 *
 * - A dependency that succeeded, or ended otherwise under the `continue` policy, counts as done:
 *   the dependent's `pending_dependencies` drops, and a `waiting` dependent whose count reaches 0
 *   becomes ready (or scheduled, if its runAt is still ahead).
 * - A dependency that ended dead or cancelled under `fail-parent` (the default) cancels the
 *   dependent, and so on down: the cascade repeats until no job changes. Each round is one
 *   statement; the rounds are bounded by the depth of the flow.
 */

export interface Settlement {
  /** Queues that gained claimable jobs: their workers should be woken. */
  wokenQueues: Set<string>;
}

const CASCADE_ROUNDS_MAX = 10_000;

export async function settleDependents(
  tx: Queryable,
  schema: string,
  ended: { succeeded: string[]; failed: string[] },
  now: Date,
): Promise<Settlement> {
  const wokenQueues = new Set<string>();
  let failed = ended.failed;
  if (ended.succeeded.length > 0 || failed.length > 0) {
    for (const queue of await release(tx, schema, ended.succeeded, failed, now)) wokenQueues.add(queue);
  }
  for (let round = 0; failed.length > 0; round += 1) {
    if (round >= CASCADE_ROUNDS_MAX)
      throw new Error('dependency cascade did not end: a cycle in the dependencies table');
    const cancelled = await tx.query<{ id: unknown }>(
      `WITH victims AS (
         SELECT DISTINCT d.job_id AS id FROM ${schema}.dependencies d
         WHERE d.depends_on = ANY($1::bigint[]) AND d.on_failure = 'fail-parent'
       ), changed AS (
         UPDATE ${schema}.jobs j SET state = 'cancelled', finished_at = $2, updated_at = $2,
           worker = NULL, lease_expires_at = NULL,
           error = jsonb_build_object('code', 'JOBQ_ERR_DEPENDENCY_FAILED', 'message', 'a dependency ended without success')
         FROM victims v, LATERAL (SELECT state AS before FROM ${schema}.jobs WHERE id = v.id) b
         WHERE j.id = v.id AND j.state NOT IN ('succeeded', 'dead', 'cancelled')
         RETURNING j.id, j.attempts, b.before
       ), logged AS (
         INSERT INTO ${schema}.events (job_id, at, from_state, to_state, attempt, error)
         SELECT id, $2, before, 'cancelled', attempts, jsonb_build_object('code', 'JOBQ_ERR_DEPENDENCY_FAILED')
         FROM changed
       )
       SELECT id FROM changed`,
      [failed, now],
    );
    failed = cancelled.rows.map((row) => String(row.id));
    if (failed.length > 0)
      for (const queue of await release(tx, schema, [], failed, now)) wokenQueues.add(queue);
  }
  return { wokenQueues };
}

/** Counts finished dependencies down; returns the queues of dependents that became claimable. */
async function release(
  tx: Queryable,
  schema: string,
  succeeded: string[],
  failed: string[],
  now: Date,
): Promise<string[]> {
  const result = await tx.query<{ queue: string }>(
    `WITH done AS (
       SELECT d.job_id, count(*)::int AS n FROM ${schema}.dependencies d
       WHERE d.depends_on = ANY($1::bigint[]) OR (d.depends_on = ANY($2::bigint[]) AND d.on_failure = 'continue')
       GROUP BY d.job_id
     ), changed AS (
       UPDATE ${schema}.jobs j SET pending_dependencies = j.pending_dependencies - done.n,
         state = CASE WHEN j.pending_dependencies - done.n > 0 OR j.state <> 'waiting' THEN j.state
                      WHEN j.run_at > $3 THEN 'scheduled' ELSE 'ready' END,
         updated_at = $3
       FROM done WHERE j.id = done.job_id AND j.state NOT IN ('succeeded', 'dead', 'cancelled')
       RETURNING j.id, j.queue, j.state, j.attempts
     ), logged AS (
       INSERT INTO ${schema}.events (job_id, at, from_state, to_state, attempt)
       SELECT id, $3, 'waiting', state, attempts FROM changed WHERE state IN ('ready', 'scheduled')
     )
     SELECT DISTINCT queue FROM changed WHERE state IN ('ready', 'scheduled')`,
    [succeeded, failed, now],
  );
  return result.rows.map((row) => row.queue);
}
