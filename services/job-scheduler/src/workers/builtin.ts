import { setTimeout as sleep } from 'node:timers/promises';
import { type Handler, type JobQueue, type JsonValue, PermanentJobError, Worker } from '@sysdesign/job-queue';
import { parseBuiltin, parseHttpCallback } from '../domain/payloads.js';
import type { AllowlistedHttp } from './http-call.js';

/**
 * The service's own workers: the demo handlers (`echo` returns its value, `sleep` waits,
 * `fail-n-times` fails its first n attempts) and HTTP callbacks to allowlisted hosts. They run as
 * library Workers in this process, which also makes this process run the library's reaper, the
 * loop that puts back jobs whose lease lapsed — pull workers' jobs included.
 */

export interface BuiltinWorkerOptions {
  concurrency: number;
  sleepMsMax: number;
  http: AllowlistedHttp;
  callbackTimeoutMs: number;
  callbackResponseBytesMax: number;
  workerId: string;
  leaseMs: number;
  reapMs: number;
}

export function builtinHandler(sleepMsMax: number): Handler {
  return async (job, { signal }) => {
    const payload = parseBuiltin(job.payload, sleepMsMax);
    if (payload.handler === 'echo') return (payload.value ?? null) as JsonValue;
    if (payload.handler === 'sleep') {
      await sleep(payload.ms, undefined, { signal });
      return { sleptMs: payload.ms };
    }
    if (job.attempts <= payload.n)
      throw new Error(`attempt ${job.attempts} of fail-n-times ${payload.n} fails`);
    return { attempts: job.attempts };
  };
}

export function httpCallbackHandler(options: BuiltinWorkerOptions): Handler {
  return async (job, { signal, fence }) => {
    // Checked at submission too; checked again here because the allowlist may have shrunk since.
    const call = parseHttpCallback(job.payload, options.http.allowlist);
    const result = await options.http.call(
      {
        url: call.url,
        method: call.method,
        headers: { ...call.headers, 'x-job-id': job.id, 'x-fencing-token': fence },
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
      },
      { signal, timeoutMs: options.callbackTimeoutMs, responseBytesMax: options.callbackResponseBytesMax },
    );
    // A 4xx will not get better by asking again; a 5xx or a network error may.
    if (result.status >= 400 && result.status < 500)
      throw new PermanentJobError(`the callback answered ${result.status}`);
    if (result.status >= 500) throw new Error(`the callback answered ${result.status}`);
    return { status: result.status, body: result.body };
  };
}

export async function startBuiltinWorkers(
  queue: JobQueue,
  names: { builtin: string; httpCallback: string },
  options: BuiltinWorkerOptions,
): Promise<Worker[]> {
  const common = {
    concurrency: options.concurrency,
    workerId: options.workerId,
    leaseMs: options.leaseMs,
    reapMs: options.reapMs,
  };
  const builtin = await new Worker(queue, names.builtin, builtinHandler(options.sleepMsMax), common).start();
  const callbacks = await new Worker(queue, names.httpCallback, httpCallbackHandler(options), {
    ...common,
    workerId: `${options.workerId}:http`,
  }).start();
  return [builtin, callbacks];
}
