import { type Handler, type JobQueue, type JsonValue, PermanentJobError, Worker } from '@sysdesign/job-queue';
import type { PushWorker, PushWorkerStore } from '../store/push-workers.js';
import type { AllowlistedHttp } from './http-call.js';

/**
 * Push workers: the scheduler leases a job on the worker's behalf (a library Worker in this
 * process, heartbeating the lease) and POSTs it to the worker's URL with its id, attempt and
 * fencing token; the answer records the outcome (2xx: output, 4xx: dead, other: retry). A worker
 * is dispatched to while its own heartbeat (`POST /v1/workers/{id}/heartbeat`) is younger than
 * the TTL; a silent worker gets no new jobs, and a job in flight to it fails at the call's timeout.
 */

export interface PushDispatcherOptions {
  queue: JobQueue;
  store: PushWorkerStore;
  http: AllowlistedHttp;
  /** A worker without a heartbeat for this long gets no new jobs. */
  heartbeatTtlMs: number;
  /** How often the registry is read. */
  syncMs: number;
  callTimeoutMs: number;
  responseBytesMax: number;
  workersMax: number;
  replicaId: string;
  onError: (error: unknown) => void;
}

interface Running {
  worker: PushWorker;
  dispatch: Worker;
}

export class PushDispatcher {
  private readonly running = new Map<string, Running>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: PushDispatcherOptions) {}

  start(): this {
    this.timer = setInterval(() => this.requestSync(), this.options.syncMs);
    this.timer.unref();
    this.requestSync();
    return this;
  }

  /** Reads the registry now (tests and the registration route call it so a new worker starts at once). */
  requestSync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.sync()).catch(this.options.onError);
    return this.syncing;
  }

  /** Live workers this replica dispatches to. */
  liveIds(): string[] {
    return [...this.running.keys()];
  }

  private async sync(): Promise<void> {
    if (this.closed) return;
    const nowMs = this.options.queue.now();
    const registered = await this.options.store.list(this.options.workersMax);
    const live = new Map(
      registered
        .filter((worker) => nowMs - worker.lastHeartbeatAt.getTime() <= this.options.heartbeatTtlMs)
        .map((worker) => [worker.id, worker]),
    );
    for (const [id, running] of this.running) {
      const current = live.get(id);
      if (current && current.concurrency === running.worker.concurrency) continue;
      this.running.delete(id);
      await running.dispatch.close({ graceMs: this.options.callTimeoutMs });
    }
    for (const [id, worker] of live) {
      if (this.running.has(id) || this.closed) continue;
      const dispatch = await new Worker(this.options.queue, worker.queue, this.handlerFor(worker), {
        concurrency: worker.concurrency,
        workerId: `${this.options.replicaId}>push:${id}`,
      }).start();
      this.running.set(id, { worker, dispatch });
    }
  }

  private handlerFor(worker: PushWorker): Handler {
    return async (job, { signal, fence }) => {
      const result = await this.options.http.call(
        {
          url: worker.url,
          method: 'POST',
          headers: { 'x-job-id': job.id, 'x-fencing-token': fence },
          body: JSON.stringify({
            id: job.id,
            queue: job.queue,
            attempt: job.attempts,
            fence,
            payload: job.payload,
          }),
        },
        { signal, timeoutMs: this.options.callTimeoutMs, responseBytesMax: this.options.responseBytesMax },
      );
      if (result.status >= 400 && result.status < 500)
        throw new PermanentJobError(`push worker ${worker.id} answered ${result.status}`);
      if (result.status < 200 || result.status >= 300)
        throw new Error(`push worker ${worker.id} answered ${result.status}`);
      return outputOf(result.body);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.syncing;
    const running = [...this.running.values()];
    this.running.clear();
    await Promise.all(running.map((entry) => entry.dispatch.close({ graceMs: this.options.callTimeoutMs })));
  }
}

/** The worker's answer as the job's output: its JSON when it is JSON, else the text. */
function outputOf(body: string): JsonValue {
  if (body.length === 0) return null;
  try {
    return JSON.parse(body) as JsonValue;
  } catch {
    return body;
  }
}
