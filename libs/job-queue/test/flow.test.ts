import { waitFor } from '@sysdesign/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  FLOW_GRAPH_JOBS_MAX,
  findCycle,
  isJobQueueError,
  type JobQueue,
  JobQueueErrorCode,
  type JsonValue,
  PermanentJobError,
  Worker,
} from '../src/index.js';
import { databases, type TestDatabase } from './helpers.js';

describe('cycle detection', () => {
  it('names the cycle as a path that returns to its start', () => {
    // Proves findCycle reports the nodes of the loop, not just that one exists.
    const edges = [
      { job: 0, dependsOn: 1, onFailure: 'fail-parent' as const },
      { job: 1, dependsOn: 2, onFailure: 'fail-parent' as const },
      { job: 2, dependsOn: 0, onFailure: 'fail-parent' as const },
      { job: 3, dependsOn: 0, onFailure: 'fail-parent' as const },
    ];
    expect(findCycle(4, edges)).toEqual([0, 1, 2, 0]);
    expect(findCycle(4, edges.slice(0, 2))).toBeUndefined();
  });
});

describe.each(databases())('flows on $name', ({ create }) => {
  let database: TestDatabase;
  const workers: Worker<JsonValue>[] = [];
  beforeAll(async () => {
    database = await create();
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.close({ graceMs: 100 })));
  });
  afterAll(() => database?.close());

  /** A worker that records the order jobs ran in and passes its payload plus its inputs' outputs on. */
  async function recorder(queue: JobQueue, name: string, order: string[], failing = new Set<string>()) {
    const worker = new Worker<{ ref: string }>(
      queue,
      name,
      async (job, context) => {
        order.push(job.payload.ref);
        if (failing.has(job.payload.ref)) throw new PermanentJobError(`${job.payload.ref} failed`);
        const inputs = await context.dependencies();
        return {
          ref: job.payload.ref,
          inputs: inputs.map((input) => ({ ref: input.ref, state: input.state, output: input.output })),
        };
      },
      { concurrency: 4 },
    );
    workers.push(worker as unknown as Worker<JsonValue>);
    await worker.start();
  }

  async function finished(queue: JobQueue, ids: string[]) {
    await waitFor(
      async () => {
        for (const id of ids) {
          const { state } = await queue.get(id);
          if (state !== 'succeeded' && state !== 'dead' && state !== 'cancelled') return false;
        }
        return true;
      },
      'the flow to finish',
      { timeoutMs: 15_000, intervalMs: 50 },
    );
  }

  it('runs a diamond in dependency order, and the join reads both outputs', async () => {
    // Proves a job waits for all its dependencies: a before b and c, d after both, d sees b and c.
    const queue = await database.open();
    const order: string[] = [];
    await recorder(queue, 'dag', order);
    const flow = await queue.flow([
      { ref: 'a', queue: 'dag', payload: { ref: 'a' } },
      { ref: 'b', queue: 'dag', payload: { ref: 'b' }, dependsOn: ['a'] },
      { ref: 'c', queue: 'dag', payload: { ref: 'c' }, dependsOn: ['a'] },
      { ref: 'd', queue: 'dag', payload: { ref: 'd' }, dependsOn: ['b', 'c'] },
    ]);
    await finished(queue, Object.values(flow.jobs));
    expect(order[0]).toBe('a');
    expect(order[3]).toBe('d');
    expect(new Set(order.slice(1, 3))).toEqual(new Set(['b', 'c']));
    const join = await queue.get(flow.jobs.d as string);
    expect(join.state).toBe('succeeded');
    expect(join.flowId).toBe(flow.flowId);
    expect((join.output as { inputs: { ref: string; state: string }[] }).inputs).toEqual([
      {
        ref: 'b',
        state: 'succeeded',
        output: { ref: 'b', inputs: [{ ref: 'a', state: 'succeeded', output: expect.anything() }] },
      },
      {
        ref: 'c',
        state: 'succeeded',
        output: { ref: 'c', inputs: [{ ref: 'a', state: 'succeeded', output: expect.anything() }] },
      },
    ]);
    const history = await queue.history(flow.jobs.d as string);
    expect(history.map((event) => [event.from, event.to])).toEqual([
      ['waiting', 'ready'],
      ['ready', 'running'],
      ['running', 'succeeded'],
    ]);
  });

  it('fans in 50 jobs across two queues into one', async () => {
    // Proves a join with many dependencies across queues becomes ready exactly when the last ends.
    const queue = await database.open();
    const order: string[] = [];
    await recorder(queue, 'fan-a', order);
    await recorder(queue, 'fan-b', order);
    const leaves = Array.from({ length: 50 }, (_, index) => ({
      ref: `leaf${index}`,
      queue: index % 2 === 0 ? 'fan-a' : 'fan-b',
      payload: { ref: `leaf${index}` },
    }));
    const flow = await queue.flow([
      ...leaves,
      { ref: 'sum', queue: 'fan-a', payload: { ref: 'sum' }, dependsOn: leaves.map((leaf) => leaf.ref) },
    ]);
    await finished(queue, Object.values(flow.jobs));
    expect(order.at(-1)).toBe('sum');
    expect(order).toHaveLength(51);
    const sum = await queue.get(flow.jobs.sum as string);
    expect((sum.output as { inputs: unknown[] }).inputs).toHaveLength(50);
  });

  it('cancels the descendants of a failed job under fail-parent, and runs a continue dependent', async () => {
    // Proves the failure cascade: b dies, so c (fail-parent on b) and d (fail-parent on c) are
    // cancelled, while e (continue on b) runs and sees b's error.
    const queue = await database.open();
    const order: string[] = [];
    await recorder(queue, 'cascade', order, new Set(['b']));
    const flow = await queue.flow([
      { ref: 'a', queue: 'cascade', payload: { ref: 'a' } },
      { ref: 'b', queue: 'cascade', payload: { ref: 'b' }, dependsOn: ['a'] },
      { ref: 'c', queue: 'cascade', payload: { ref: 'c' }, dependsOn: ['b'] },
      { ref: 'd', queue: 'cascade', payload: { ref: 'd' }, dependsOn: ['c'] },
      { ref: 'e', queue: 'cascade', payload: { ref: 'e' }, dependsOn: [{ ref: 'b', onFailure: 'continue' }] },
    ]);
    await finished(queue, Object.values(flow.jobs));
    const states = Object.fromEntries(
      await Promise.all(
        Object.entries(flow.jobs).map(async ([ref, id]) => [ref, (await queue.get(id)).state]),
      ),
    );
    expect(states).toEqual({ a: 'succeeded', b: 'dead', c: 'cancelled', d: 'cancelled', e: 'succeeded' });
    expect(order).not.toContain('c');
    expect(order).not.toContain('d');
    const e = await queue.get(flow.jobs.e as string);
    expect((e.output as { inputs: { state: string }[] }).inputs).toEqual([
      { ref: 'b', state: 'dead', output: null },
    ]);
    expect((await queue.get(flow.jobs.d as string)).error).toMatchObject({
      code: 'JOBQ_ERR_DEPENDENCY_FAILED',
    });
  });

  it('cancels a job and its fail-parent dependents, refuses a second cancel, and reruns one', async () => {
    // Proves operator cancel follows the same cascade as a failure, and rerun runs a finished job
    // again from attempt 0.
    const queue = await database.open();
    const flow = await queue.flow([
      { ref: 'a', queue: 'ops', payload: 1 },
      { ref: 'b', queue: 'ops', payload: 2, dependsOn: ['a'] },
      { ref: 'c', queue: 'ops', payload: 3, dependsOn: [{ ref: 'a', onFailure: 'continue' }] },
    ]);
    await queue.cancel(flow.jobs.a as string);
    expect((await queue.get(flow.jobs.b as string)).state).toBe('cancelled');
    expect((await queue.get(flow.jobs.c as string)).state).toBe('ready');
    await expect(queue.cancel(flow.jobs.a as string)).rejects.toMatchObject({
      code: JobQueueErrorCode.WRONG_STATE,
    });
    const rerun = await queue.rerun(flow.jobs.a as string);
    expect(rerun).toMatchObject({ state: 'ready', attempts: 0, error: null });
    expect((await queue.history(flow.jobs.a as string)).map((event) => event.to)).toEqual([
      'cancelled',
      'ready',
    ]);
  });

  it('refuses a cyclic flow, naming the cycle, and writes nothing', async () => {
    // Proves cycle refusal happens before any insert.
    const queue = await database.open();
    const error = await queue
      .flow([
        { ref: 'x', queue: 'cyc', payload: 1, dependsOn: ['z'] },
        { ref: 'y', queue: 'cyc', payload: 2, dependsOn: ['x'] },
        { ref: 'z', queue: 'cyc', payload: 3, dependsOn: ['y'] },
      ])
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(isJobQueueError(error, JobQueueErrorCode.CYCLE)).toBe(true);
    expect((error as Error).message).toContain('x -> z -> y -> x');
    await expect(
      queue.flow([{ ref: 'x', queue: 'cyc', payload: 1, dependsOn: ['missing'] }]),
    ).rejects.toMatchObject({ code: JobQueueErrorCode.UNKNOWN_DEPENDENCY });
    expect(Object.values(await queue.counts('cyc')).every((count) => count === 0)).toBe(true);
  });

  it('lets a running job add children, waits for them, then runs it again with their outputs', async () => {
    // Proves the step pattern (#20's manifest): the parent returns, goes waiting, and runs once more
    // when its children finish, reading their outputs.
    const queue = await database.open();
    const runs: string[] = [];
    const worker = new Worker<{ kind: string; n?: number }>(
      queue,
      'steps',
      async (job, context) => {
        runs.push(job.payload.kind);
        if (job.payload.kind === 'child') return { rendition: job.payload.n };
        const done = await context.dependencies();
        if (done.length === 0) {
          await context.addChildren(
            [1, 2, 3].map((n) => ({ queue: 'steps', payload: { kind: 'child', n } })),
          );
          return 'children added';
        }
        return { manifest: done.map((child) => (child.output as { rendition: number }).rendition) };
      },
      { concurrency: 2 },
    );
    workers.push(worker as unknown as Worker<JsonValue>);
    await worker.start();
    const { id } = await queue.enqueue('steps', { kind: 'parent' });
    await waitFor(async () => (await queue.get(id)).state === 'succeeded', 'the parent to finish', {
      timeoutMs: 10_000,
    });
    expect((await queue.get(id)).output).toEqual({ manifest: [1, 2, 3] });
    expect(runs.filter((kind) => kind === 'parent')).toHaveLength(2);
    expect((await queue.history(id)).map((event) => event.to)).toEqual([
      'running',
      'waiting',
      'ready',
      'running',
      'succeeded',
    ]);
  });
  it("reads a flow's jobs and edges through the client, bounded, and refuses an id that is no flow", async () => {
    // Proves readFlow is the whole graph a dashboard draws (refs, states, policies), lists at most
    // FLOW_GRAPH_JOBS_MAX jobs and says so, and answers NOT_FOUND rather than an empty graph.
    const queue = await database.open({ limits: { jobsPerCallMax: FLOW_GRAPH_JOBS_MAX + 1 } });
    const flow = await queue.flow([
      { ref: 'a', queue: 'graph', payload: null },
      { ref: 'b', queue: 'graph', payload: null, dependsOn: ['a'] },
      { ref: 'c', queue: 'graph', payload: null, dependsOn: [{ ref: 'a', onFailure: 'continue' }] },
      { ref: 'd', queue: 'graph', payload: null, dependsOn: ['b', 'c'] },
    ]);
    const { a, b, c, d } = flow.jobs as Record<string, string>;
    const graph = await queue.readFlow(flow.flowId);
    expect(graph).toEqual({
      flowId: flow.flowId,
      jobs: [
        { id: a, ref: 'a', queue: 'graph', state: 'ready' },
        { id: b, ref: 'b', queue: 'graph', state: 'waiting' },
        { id: c, ref: 'c', queue: 'graph', state: 'waiting' },
        { id: d, ref: 'd', queue: 'graph', state: 'waiting' },
      ],
      edges: [
        { from: a, to: b, onFailure: 'fail-parent' },
        { from: a, to: c, onFailure: 'continue' },
        { from: b, to: d, onFailure: 'fail-parent' },
        { from: c, to: d, onFailure: 'fail-parent' },
      ],
      truncated: false,
    });
    const single = await queue.enqueue('graph', null);
    for (const id of [single.id, '999999999']) {
      await expect(queue.readFlow(id)).rejects.toMatchObject({ code: JobQueueErrorCode.NOT_FOUND });
    }
    const big = await queue.flow(
      Array.from({ length: FLOW_GRAPH_JOBS_MAX + 1 }, (_, index) => ({
        ref: `n${index}`,
        queue: 'graph',
        payload: null,
        ...(index === 0 ? {} : { dependsOn: ['n0'] }),
      })),
    );
    const bigGraph = await queue.readFlow(big.flowId);
    expect(bigGraph.truncated).toBe(true);
    expect(bigGraph.jobs).toHaveLength(FLOW_GRAPH_JOBS_MAX);
    expect(bigGraph.edges).toHaveLength(FLOW_GRAPH_JOBS_MAX - 1);
  });
});
