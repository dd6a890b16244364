import type { JobQueue } from './client.js';
import type { JobErrorRecord } from './errors.js';
import { JobQueueError, JobQueueErrorCode } from './errors.js';
import type { HeldLease } from './leases.js';
import { type JobInsert, jobInsertOf } from './options.js';
import { idOf } from './rows.js';
import type { Queryable } from './sql.js';
import type {
  DependencyResult,
  EnqueueResult,
  FailurePolicy,
  JobOptions,
  JobState,
  JsonValue,
} from './types.js';

/**
 * DAG flows. A flow is a set of jobs submitted at once, each naming the jobs (by `ref`) it depends
 * on. A job starts `waiting` with a count of unfinished dependencies and becomes ready when the
 * count reaches 0 (settle.ts). Per dependency, `fail-parent` (the default) cancels the dependent
 * when the dependency ends dead or cancelled; `continue` lets it run, with the failure in its
 * `dependencies()`. A cycle is refused before anything is written, with the cycle named.
 */

export interface FlowDependency {
  ref: string;
  onFailure?: FailurePolicy;
}

export interface FlowJobSpec {
  /** Unique within the flow. */
  ref: string;
  queue: string;
  payload: unknown;
  /** Job keys are refused in flows: a key matching an older job would splice it into this graph. */
  options?: Omit<JobOptions, 'jobKey'>;
  dependsOn?: readonly (string | FlowDependency)[];
}

export interface FlowResult {
  flowId: string;
  /** Job id per ref. */
  jobs: Record<string, string>;
}

export interface ChildSpec {
  queue: string;
  payload: unknown;
  options?: Omit<JobOptions, 'jobKey'>;
  /** How the adding job treats this child's failure. Default fail-parent. */
  onFailure?: FailurePolicy;
  ref?: string;
}

const REF = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Dependencies one job may have: a dependent reads all their outputs at once. */
const DEPENDENCIES_PER_JOB_MAX = 1_000;

interface Edge {
  job: number;
  dependsOn: number;
  onFailure: FailurePolicy;
}

function invalid(message: string): JobQueueError {
  return new JobQueueError(JobQueueErrorCode.INVALID_OPTION, message);
}

function policyOf(onFailure: FailurePolicy | undefined): FailurePolicy {
  const policy = onFailure ?? 'fail-parent';
  if (policy !== 'fail-parent' && policy !== 'continue')
    throw invalid(`onFailure must be fail-parent or continue, got ${policy}`);
  return policy;
}

/** The edges of the flow by index; throws on unknown refs, duplicates and cycles. */
export function flowEdges(jobs: readonly FlowJobSpec[]): Edge[] {
  const indexOf = new Map<string, number>();
  for (const [index, job] of jobs.entries()) {
    if (typeof job.ref !== 'string' || !REF.test(job.ref))
      throw invalid(`flow ref ${JSON.stringify(job.ref)} must match ${REF}`);
    if (indexOf.has(job.ref)) throw invalid(`flow ref ${job.ref} appears twice`);
    indexOf.set(job.ref, index);
  }
  const edges: Edge[] = [];
  for (const [index, job] of jobs.entries()) {
    const seen = new Set<string>();
    const dependencies = job.dependsOn ?? [];
    if (dependencies.length > DEPENDENCIES_PER_JOB_MAX)
      throw invalid(`job ${job.ref} has over ${DEPENDENCIES_PER_JOB_MAX} dependencies`);
    for (const dependency of dependencies) {
      const { ref, onFailure } =
        typeof dependency === 'string' ? { ref: dependency, onFailure: undefined } : dependency;
      const target = indexOf.get(ref);
      if (target === undefined) {
        throw new JobQueueError(
          JobQueueErrorCode.UNKNOWN_DEPENDENCY,
          `job ${job.ref} depends on ${ref}, which is not in the flow`,
          {
            ref: job.ref,
            dependsOn: ref,
          },
        );
      }
      if (seen.has(ref)) throw invalid(`job ${job.ref} lists ${ref} twice`);
      seen.add(ref);
      edges.push({ job: index, dependsOn: target, onFailure: policyOf(onFailure) });
    }
  }
  const cycle = findCycle(jobs.length, edges);
  if (cycle) {
    const refs = cycle.map((index) => (jobs[index] as FlowJobSpec).ref);
    throw new JobQueueError(JobQueueErrorCode.CYCLE, `the flow has a cycle: ${refs.join(' -> ')}`, {
      cycle: refs,
    });
  }
  return edges;
}

/** A cycle as a path that starts and ends at the same node, or undefined. Iterative DFS: no recursion depth limit. */
export function findCycle(nodeCount: number, edges: readonly Edge[]): number[] | undefined {
  const next: number[][] = Array.from({ length: nodeCount }, () => []);
  for (const edge of edges) (next[edge.job] as number[]).push(edge.dependsOn);
  const color = new Uint8Array(nodeCount); // 0 new, 1 on the path, 2 done
  for (let root = 0; root < nodeCount; root += 1) {
    if (color[root] !== 0) continue;
    const path: number[] = [root];
    const cursor: number[] = [0];
    color[root] = 1;
    while (path.length > 0) {
      const node = path.at(-1) as number;
      const position = cursor.at(-1) as number;
      const neighbours = next[node] as number[];
      if (position >= neighbours.length) {
        color[node] = 2;
        path.pop();
        cursor.pop();
        continue;
      }
      cursor[cursor.length - 1] = position + 1;
      const neighbour = neighbours[position] as number;
      if (color[neighbour] === 1) return [...path.slice(path.indexOf(neighbour)), neighbour];
      if (color[neighbour] === 0) {
        color[neighbour] = 1;
        path.push(neighbour);
        cursor.push(0);
      }
    }
  }
  return undefined;
}

function insertsOf(
  queue: JobQueue,
  specs: readonly { queue: string; payload: unknown; options?: JobOptions }[],
  nowMs: number,
) {
  if (specs.length === 0) throw invalid('a flow needs at least one job');
  if (specs.length > queue.limits.jobsPerCallMax) {
    throw new JobQueueError(
      JobQueueErrorCode.TOO_MANY_JOBS,
      `${specs.length} jobs, over the ${queue.limits.jobsPerCallMax} limit`,
    );
  }
  return specs.map((spec): JobInsert => {
    if ((spec.options as JobOptions | undefined)?.jobKey !== undefined)
      throw invalid('job keys are not accepted in flows');
    return jobInsertOf(spec.queue, spec.payload, spec.options ?? {}, nowMs, queue.limits);
  });
}

async function insertEdges(
  queue: JobQueue,
  tx: Queryable,
  edges: { job: string; dependsOn: string; onFailure: FailurePolicy }[],
) {
  if (edges.length === 0) return;
  await tx.query(
    `INSERT INTO ${queue.schema}.dependencies (job_id, depends_on, on_failure)
     SELECT job_id, depends_on, on_failure FROM jsonb_to_recordset($1::jsonb) AS x(job_id bigint, depends_on bigint, on_failure text)`,
    [
      JSON.stringify(
        edges.map((edge) => ({ job_id: edge.job, depends_on: edge.dependsOn, on_failure: edge.onFailure })),
      ),
    ],
  );
}

/** Submits a flow in one transaction; resolves with the job id of each ref. */
export async function submitFlow(queue: JobQueue, jobs: readonly FlowJobSpec[]): Promise<FlowResult> {
  const edges = flowEdges(jobs);
  const nowMs = queue.now();
  const inserts = insertsOf(queue, jobs, nowMs);
  const pending = jobs.map((_, index) => edges.filter((edge) => edge.job === index).length);
  const hasDependents = jobs.map((_, index) => edges.some((edge) => edge.dependsOn === index));
  const results = await queue.sql.tx(async (tx) => {
    const inserted = await queue.insertJobs(tx, inserts, {
      nowMs,
      pending,
      hasDependents,
      refs: jobs.map((job) => job.ref),
    });
    const ids = inserted.map((result) => result.id);
    await tx.query(`UPDATE ${queue.schema}.jobs SET flow_id = $1 WHERE id = ANY($2::bigint[])`, [
      ids[0],
      ids,
    ]);
    await insertEdges(
      queue,
      tx,
      edges.map((edge) => ({
        job: ids[edge.job] as string,
        dependsOn: ids[edge.dependsOn] as string,
        onFailure: edge.onFailure,
      })),
    );
    return ids;
  });
  queue.wakeLocal(inserts.filter((_, index) => pending[index] === 0));
  return {
    flowId: results[0] as string,
    jobs: Object.fromEntries(jobs.map((job, index) => [job.ref, results[index] as string])),
  };
}

/** Adds children to a running job under its fence: it waits for them after its handler returns. */
export async function addChildren(
  queue: JobQueue,
  lease: HeldLease,
  children: readonly ChildSpec[],
): Promise<EnqueueResult[]> {
  const nowMs = queue.now();
  const inserts = insertsOf(queue, children, nowMs);
  const policies = children.map((child) => policyOf(child.onFailure));
  const results = await queue.sql.tx(async (tx) => {
    const parent = await tx.query<{ flow_id: unknown; pending_dependencies: number }>(
      `SELECT flow_id, pending_dependencies FROM ${queue.schema}.jobs WHERE id = $1 AND fence = $2 AND state = 'running' FOR UPDATE`,
      [lease.id, lease.fence],
    );
    const row = parent.rows[0];
    if (!row)
      throw new JobQueueError(
        JobQueueErrorCode.FENCED,
        `addChildren refused: job ${lease.id} fence ${lease.fence} is stale`,
      );
    const count = await tx.query<{ n: unknown }>(
      `SELECT count(*) AS n FROM ${queue.schema}.dependencies WHERE job_id = $1`,
      [lease.id],
    );
    if (Number(count.rows[0]?.n ?? 0) + children.length > DEPENDENCIES_PER_JOB_MAX) {
      throw invalid(`job ${lease.id} would have over ${DEPENDENCIES_PER_JOB_MAX} dependencies`);
    }
    const inserted = await queue.insertJobs(tx, inserts, {
      nowMs,
      hasDependents: children.map(() => true),
      refs: children.map((child) => child.ref ?? null),
    });
    const ids = inserted.map((result) => result.id);
    const flowId = row.flow_id === null ? lease.id : idOf(row.flow_id);
    await tx.query(`UPDATE ${queue.schema}.jobs SET flow_id = $1 WHERE id = ANY($2::bigint[]) OR id = $3`, [
      flowId,
      ids,
      lease.id,
    ]);
    await insertEdges(
      queue,
      tx,
      ids.map((id, index) => ({ job: lease.id, dependsOn: id, onFailure: policies[index] as FailurePolicy })),
    );
    await tx.query(
      `UPDATE ${queue.schema}.jobs SET pending_dependencies = pending_dependencies + $2 WHERE id = $1`,
      [lease.id, ids.length],
    );
    return inserted;
  });
  queue.wakeLocal(inserts);
  return results;
}

/** The jobs `jobId` depends on, with their outcomes. */
export async function dependencyResults(queue: JobQueue, jobId: string): Promise<DependencyResult[]> {
  const result = await queue.sql.query<{
    id: unknown;
    flow_ref: string | null;
    state: JobState;
    output: JsonValue | null;
    error: JobErrorRecord | null;
    on_failure: FailurePolicy;
  }>(
    `SELECT j.id, j.flow_ref, j.state, j.output, j.error, d.on_failure FROM ${queue.schema}.dependencies d
     JOIN ${queue.schema}.jobs j ON j.id = d.depends_on WHERE d.job_id = $1 ORDER BY j.id`,
    [jobId],
  );
  return result.rows.map((row) => ({
    id: idOf(row.id),
    ref: row.flow_ref,
    state: row.state,
    output: row.output,
    error: row.error,
    onFailure: row.on_failure,
  }));
}

/** The most jobs `readFlow` returns: a flow can grow past its submit through `addChildren`. */
export const FLOW_GRAPH_JOBS_MAX = 1_000;

export interface FlowGraphJob {
  id: string;
  /** The job's name in its flow (null for a child added without one). */
  ref: string | null;
  queue: string;
  state: JobState;
}

export interface FlowGraphEdge {
  /** The dependency. */
  from: string;
  /** The job that waits for it. */
  to: string;
  onFailure: FailurePolicy;
}

export interface FlowGraph {
  flowId: string;
  /** Oldest first, at most FLOW_GRAPH_JOBS_MAX. */
  jobs: FlowGraphJob[];
  /** The edges into the jobs listed. */
  edges: FlowGraphEdge[];
  /** More jobs belong to the flow than were listed. */
  truncated: boolean;
}

/** A flow's jobs with their states and its dependency edges, for drawing it. */
export async function readFlow(queue: JobQueue, flowId: string): Promise<FlowGraph> {
  const id = queue.jobId(flowId);
  const s = queue.schema;
  const jobs = await queue.sql.query<{ id: unknown; ref: string | null; queue: string; state: JobState }>(
    `SELECT id, flow_ref AS ref, queue, state FROM ${s}.jobs WHERE flow_id = $1 ORDER BY id LIMIT $2`,
    [id, FLOW_GRAPH_JOBS_MAX + 1],
  );
  if (jobs.rows.length === 0) throw new JobQueueError(JobQueueErrorCode.NOT_FOUND, `no flow ${flowId}`);
  const listed = jobs.rows.slice(0, FLOW_GRAPH_JOBS_MAX);
  const ids = listed.map((row) => idOf(row.id));
  const edges = await queue.sql.query<{ from: unknown; to: unknown; on_failure: FailurePolicy }>(
    `SELECT depends_on AS "from", job_id AS "to", on_failure FROM ${s}.dependencies
     WHERE job_id = ANY($1::bigint[]) ORDER BY job_id, depends_on`,
    [ids],
  );
  return {
    flowId: id,
    jobs: listed.map((row) => ({ id: idOf(row.id), ref: row.ref, queue: row.queue, state: row.state })),
    edges: edges.rows.map((row) => ({ from: idOf(row.from), to: idOf(row.to), onFailure: row.on_failure })),
    truncated: jobs.rows.length > FLOW_GRAPH_JOBS_MAX,
  };
}
